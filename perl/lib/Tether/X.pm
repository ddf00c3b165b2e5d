package Tether::X;

use strict;
use warnings;

use Scalar::Util ();
use Tether::Raw ();

# The error classes, one per kind, and the map from the C library's error
# codes to them.

my %BY_CODE;
{
    no strict 'refs';
    my %kinds = (
        'Tether::X::Usage'        => [qw(INVAL NOSPC AGAIN)],
        'Tether::X::NotOpen'      => [qw(STATE)],
        'Tether::X::System'       => [qw(NOMEM RANDOM ZLIB IO)],
        'Tether::X::ConnectionLost' => [qw(CLOSED)],
        'Tether::X::Connect'      => [qw(CONNECT)],
        'Tether::X::DNS'          => [qw(DNS)],
        'Tether::X::Proxy'        => [qw(PROXY)],
        'Tether::X::Timeout'      => [qw(TIMEOUT)],
        'Tether::X::Backpressure' => [qw(BACKPRESSURE)],
        'Tether::X::TLS'          => [qw(TLS)],
        'Tether::X::TLSVerify'    => [qw(TLS_VERIFY)],
        'Tether::X::TLSConfig'    => [qw(TLS_CONFIG)],
        'Tether::X::Unsupported'  => [qw(UNSUPPORTED)],
        'Tether::X::Protocol'     => [
            qw(RSV OPCODE MASK LENGTH CONTROL_LENGTH CONTROL_FRAGMENTED
              CONTINUATION FRAGMENT FRAME_TOO_BIG MESSAGE_TOO_BIG UTF8
              CLOSE_CODE CLOSE_PAYLOAD INFLATE)
        ],
        'Tether::X::Handshake' => [
            qw(HS_MALFORMED HS_TOO_BIG HS_METHOD HS_UPGRADE HS_VERSION HS_KEY
              HS_STATUS HS_ACCEPT HS_PROTOCOL HS_EXTENSION HS_HTTP_VERSION)
        ],
    );
    for my $class (keys %kinds) {
        for my $name (@{ $kinds{$class} }) {
            my $code = ${"Tether::Raw::TETHER_E_$name"};
            $BY_CODE{$code} = $class if defined $code;
        }
    }
}

# The class for a TETHER_E_* code (Tether::X::Base for an unknown one, from
# a newer library).
sub class_for {
    my ($code) = @_;
    return $BY_CODE{$code} // 'Tether::X::Base';
}

# An exception object for a negative code from the C library.
sub from_code {
    my ($code, %fields) = @_;
    my $class = class_for($code);
    $fields{message} //= Tether::Raw::tether_strerror($code);
    return $class->new(%fields, error => $code);
}

# The outcome of a CLOSED event: undef for a normal end (closing handshake
# done, code 1000 or 1005, no error), else the error object. $os_error is
# tether_conn_os_error(): the errno of the system call that failed, or 0.
sub from_close {
    my ($code, $reason, $clean, $error, $text, $http_status, $os_error) = @_;
    return undef
      if !$error && $clean
      && ($code == $Tether::Raw::TETHER_CLOSE_NORMAL || $code == $Tether::Raw::TETHER_CLOSE_NO_STATUS);
    my $err;
    if ($error) {
        my %f = (close_code => $code, reason => $reason, from_network => 1);
        $f{message}     = $text if defined $text && length $text;
        $f{http_status} = $http_status if $http_status;
        $f{errno}       = $os_error if $os_error;
        $err = from_code($error, %f);
        # A socket error that ended a connection: it was lost.
        bless $err, 'Tether::X::ConnectionLost' if $error == $Tether::Raw::TETHER_E_IO;
    }
    elsif ($clean) {
        my $r = length $reason ? ": $reason" : '';
        $err = Tether::X::WebSocketClose->new(
            message      => "the connection closed with code $code$r",
            from_network => 1,
            close_code   => $code,
            reason     => $reason
        );
    }
    else {
        $err = Tether::X::ConnectionLost->new(
            message      => 'the connection ended without a closing handshake',
            from_network => 1,
            close_code   => $code,
            reason     => $reason
        );
    }
    return $err;
}

# The error of a tether_listen() that returned $rc, and left $os_error in
# errno: "address already in use (127.0.0.1:8080)", as the tether tool and
# the Python binding say it, when the OS gave a reason.
sub from_listen {
    my ($rc, $host, $port, $os_error) = @_;
    return from_code($rc,
        message => "cannot listen on $host:$port: " . Tether::Raw::tether_strerror($rc))
      unless $os_error && $rc == $Tether::Raw::TETHER_E_IO;
    my $why = lcfirst _os_text($os_error);
    return from_code($rc, message => "$why ($host:$port)", errno => $os_error);
}

# strerror(), as $! gives it.
sub _os_text {
    local $! = $_[0];
    return "$!";
}

# Builds and throws at once.
sub throw_code {
    my ($code, %fields) = @_;
    die from_code($code, %fields);
}

package Tether::X::Base;

use strict;
use warnings;

use overload
    '""'     => sub { $_[0]->to_string },
    bool     => sub { 1 },
    fallback => 1;

sub new {
    my ($class, @args) = @_;
    my %self = @args == 1 ? (message => $args[0]) : @args;
    $self{message} //= $class;
    # Where the caller was, unless the error comes from the network (a
    # connection's end), where that would only name the event loop.
    if (!delete $self{from_network}) {
        my ($pkg, $file, $line);
        my $i = 0;
        while (($pkg, $file, $line) = caller($i++)) {
            last unless $pkg =~ /^Tether(?:::|$)/;
        }
        @self{qw(file line)} = ($file, $line) if defined $file;
    }
    return bless \%self, $class;
}

sub throw {
    my ($class, @args) = @_;
    die $class->new(@args);
}

sub message   { $_[0]{message} }
sub get       { $_[0]{ $_[1] } }
sub error     { $_[0]{error} }
sub close_code { $_[0]{close_code} }
sub reason    { $_[0]{reason} }

# Like $!: the number (compare with POSIX's ECONNREFUSED...) that reads as
# the OS's text in a string; 0 when the OS gave no reason.
sub errno {
    my $n = $_[0]{errno} or return 0;
    return Scalar::Util::dualvar($n, Tether::X::_os_text($n));
}

sub to_string {
    my ($self) = @_;
    my $s = ref($self) . ': ' . $self->{message};
    $s .= " (close code $self->{close_code})" if defined $self->{close_code};
    $s .= defined $self->{file} ? " at $self->{file} line $self->{line}.\n" : "\n";
    return $s;
}

package Tether::X::Usage;
our @ISA = ('Tether::X::Base');
package Tether::X::NotOpen;
our @ISA = ('Tether::X::Base');
package Tether::X::System;
our @ISA = ('Tether::X::Base');
package Tether::X::ConnectionLost;
our @ISA = ('Tether::X::Base');
package Tether::X::Connect;
our @ISA = ('Tether::X::Base');
package Tether::X::DNS;
our @ISA = ('Tether::X::Base');
package Tether::X::Proxy;
our @ISA = ('Tether::X::Handshake');
package Tether::X::Timeout;
our @ISA = ('Tether::X::Base');
package Tether::X::Backpressure;
our @ISA = ('Tether::X::Base');
package Tether::X::TLS;
our @ISA = ('Tether::X::Base');
package Tether::X::TLSVerify;
our @ISA = ('Tether::X::TLS');
package Tether::X::TLSConfig;
our @ISA = ('Tether::X::TLS');
package Tether::X::Unsupported;
our @ISA = ('Tether::X::Base');
package Tether::X::Protocol;
our @ISA = ('Tether::X::Base');
package Tether::X::Handshake;
our @ISA = ('Tether::X::Base');
sub status { $_[0]{http_status} }
package Tether::X::WebSocketClose;
our @ISA = ('Tether::X::Base');

1;

__END__

=encoding utf8

=head1 NAME

Tether::X - the exception classes of Tether, one per kind of error

=head1 SYNOPSIS

    use Tether::Blocking::Client;

    my $ws = eval {
        Tether::Blocking::Client->connect(url => 'ws://127.0.0.1:1/', timeout => 5);
    };
    if (my $err = $@) {
        die $err unless ref $err && $err->isa('Tether::X::Base');
        if ($err->isa('Tether::X::Connect')) {
            print "nobody listens there: ", $err->message, "\n";
        }
        elsif ($err->isa('Tether::X::Handshake')) {
            print "refused with HTTP ", $err->status, "\n";
        }
    }

=head1 DESCRIPTION

Everything that fails in Tether throws (or rejects a promise with) an
object of one of these classes. All inherit from B<Tether::X::Base>, and
stringify to C<CLASS: MESSAGE (close code N) at FILE line N.> (without the
place for errors that ended a connection: they come from the network, not
from a line of your program).

=head2 Tether::X::Base

=over

=item C<< CLASS->new(message => $text, %fields) >>, C<< CLASS->throw(...) >>

Builds (and with C<throw>, dies with) an error.

=item C<message>

What went wrong, in words: the library's own text when it has one
(C<"certificate has expired">, C<"RSV2 set with no extension
negotiated">), else the error code's description.

=item C<error>

The C library's C<TETHER_E_*> code (a negative number), when there is one.

=item C<close_code>, C<reason>

For errors that ended a connection: the close code (1006 when no close
frame was exchanged) and reason.

=item C<errno>

The operating system's reason, when a system call is what failed: the
C<errno> of a connection that could not be made (C<ECONNREFUSED>,
C<ENETUNREACH>...; C<tether_conn_os_error()> in C), or of a server that
could not listen (C<EADDRINUSE>, C<EACCES>). Like C<$!>, it is a number
that reads as the system's text in a string; 0 when the OS gave no reason
(a refused handshake, a TLS failure, a timeout). The message then says it
with the address:

    use POSIX qw(ECONNREFUSED);
    eval { Tether::Blocking::Client->connect(url => 'ws://127.0.0.1:1/') };
    if (ref $@ && $@->errno == ECONNREFUSED) {
        print $@->message, "\n";    # connection refused (127.0.0.1:1)
    }

=item C<get($field)>

Any field by name (also C<http_status>).

=back

=head2 The classes

=over

=item B<Tether::X::Usage> - a bad argument or a call at the wrong time
(C<TETHER_E_INVAL>).

=item B<Tether::X::NotOpen> - the connection is not open (not yet, or
no longer): a send after close, for example (C<TETHER_E_STATE>).

=item B<Tether::X::Backpressure> - the send queue is at its limit.

=item B<Tether::X::DNS> - the host name could not be resolved.

=item B<Tether::X::Proxy> - the proxy refused the tunnel (a kind of
L<Tether::X::Handshake>); the message is the proxy's answer: C<HTTP 407
Proxy Authentication Required from the proxy>, C<SOCKS5 proxy: connection
refused (reply 5)>.

=item B<Tether::X::Connect> - the TCP connection could not be made;
C<errno> says why (C<ECONNREFUSED>: nobody listens there), and the
message names the address: C<connection refused (127.0.0.1:1)>.

=item B<Tether::X::Timeout> - a connect, handshake, close, idle or
keepalive timeout, or a blocking call that waited too long.

=item B<Tether::X::TLS> - a TLS failure; its subclasses
B<Tether::X::TLSVerify> (the peer's certificate was refused; the message
says why) and B<Tether::X::TLSConfig> (a certificate, key or CA file could
not be loaded).

=item B<Tether::X::Handshake> - the opening handshake failed; C<status>
gives the HTTP status of a refusal (e.g. 404).

=item B<Tether::X::Protocol> - a side broke RFC 6455 or RFC 7692
(bad frame, invalid UTF-8, message too big, bad deflate data);
C<close_code> is the code sent (1002, 1007, 1009).

=item B<Tether::X::ConnectionLost> - the TCP connection ended without a
closing handshake (close code 1006).

=item B<Tether::X::WebSocketClose> - the closing handshake completed, but
with a code other than 1000 (normal) or 1005 (no code): the peer went
away (1001), failed (1011), or used an application code (4000-4999).
C<close_code> and C<reason> say which.

=item B<Tether::X::Unsupported> - the library was built without the
feature (see C<HAS_PMD> and C<HAS_TLS> in L<Tether>).

=item B<Tether::X::System> - out of memory, no randomness, zlib failure,
a socket that cannot be bound (C<errno> says why: C<EADDRINUSE> for a
port already taken, with the message C<address already in use
(127.0.0.1:8080)>).

=back

=head1 FUNCTIONS

C<Tether::X::from_code($code, %fields)> builds the object for a
C<TETHER_E_*> code (C<< errno => $n >> among the fields sets C<errno>);
C<Tether::X::class_for($code)> names its class.

=cut
