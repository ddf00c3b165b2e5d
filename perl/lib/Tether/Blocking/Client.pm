package Tether::Blocking::Client;

use strict;
use warnings;

use Tether ();
use Tether::Blocking::Connection ();
use Tether::Blocking::Context ();
use Tether::Options ();
use Tether::Raw ();
use Tether::X ();

my %KNOWN = ((map { $_ => 1 } qw(url timeout on_reconnect on_retry)),
    map { $_ => 1 } Tether::Options::names());

sub connect {
    my ($class, %args) = @_;
    for (sort keys %args) {
        Tether::X::Usage->throw("unknown option '$_' for Tether::Blocking::Client->connect")
          unless $KNOWN{$_};
    }
    Tether::X::Usage->throw('url => ... is required') unless defined $args{url};
    for my $cb (qw(on_reconnect on_retry)) {
        Tether::X::Usage->throw("$cb must be a code reference")
          if defined $args{$cb} && ref $args{$cb} ne 'CODE';
    }
    my $timeout = exists $args{timeout} ? $args{timeout} : 30;

    my $bctx = Tether::Blocking::Context->new;
    my $opts = Tether::Options->build(\%args, 'client');
    my ($rc, $conn) = Tether::Raw::tether_connect($bctx->ctx, $args{url}, $opts);
    Tether::Raw::tether_opts_free($opts);
    Tether::X::throw_code($rc,
        message => "cannot connect to $args{url}: " . Tether::Raw::tether_strerror($rc))
      if $rc < 0;
    my $ws = Tether::Blocking::Connection->_new(
        bctx    => $bctx,
        conn    => $conn,
        id      => Tether::Raw::tether_conn_id($conn),
        role    => 'client',
        timeout => $timeout,
        on_reconnect => $args{on_reconnect},
        on_retry     => $args{on_retry},
    );
    # The library's connect and handshake timeouts bound this too.
    $bctx->wait_for(sub { $ws->{state} ne 'connecting' }, $timeout, 'the connection to open');
    die $ws->{error} if $ws->{state} eq 'closed';
    return $ws;
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Blocking::Client - a WebSocket client for scripts without an event loop

=head1 SYNOPSIS

    use Tether::Blocking::Client;

    my $ws = Tether::Blocking::Client->connect(
        url          => 'ws://127.0.0.1:9000/',
        timeout      => 10,                 # seconds, for every wait
        subprotocols => ['chat'],
    );
    $ws->send_text('hello');
    my $reply = $ws->recv;
    print "server said: $reply\n";
    $ws->close;

=head1 DESCRIPTION

=head2 connect( %OPTIONS )

Connects and waits until the connection is open; returns a
L<Tether::Blocking::Connection>, or throws a L<Tether::X> object
(L<Tether::X::Connect>, L<Tether::X::Handshake>, L<Tether::X::TLSVerify>,
L<Tether::X::Timeout>...). Options: C<url> (required), C<timeout> (seconds,
default 30; the default for every later wait on the connection too), and
everything in L<Tether::Options> (C<headers>, C<subprotocols>, C<tls>,
C<compression>, limits, timeouts, C<reconnect>).

=head2 Reconnecting

With C<< reconnect => ... >> (the forms and defaults of
L<Tether::Client/RECONNECTING>) a connection that fails or is lost is
made again, and the same L<Tether::Blocking::Connection> goes on. As
nothing runs while you do not wait, it happens during a wait: C<connect>
itself waits through the retries until the first open (at most
C<timeout>), and C<recv>, C<ping> and C<close> wait through them as well
(a C<recv> returns the next message, from whichever connection). Two
callbacks, called from within those waits:

=over

=item C<on_retry> - C<< sub ($error, $delay, $attempt, $connection) >>:
the connection ended (C<$error>, a L<Tether::X> object) and is made again
in C<$delay> seconds, attempt C<$attempt> (from 1 since it was last
open).

=item C<on_reconnect> - C<< sub ($connection) >>: open again; send what a
new connection needs (a login, a subscription) here.

=back

Between the two, C<state> is C<connecting> and sends throw
L<Tether::X::NotOpen>. When the library gives up (C<max_tries>, or an end
not worth retrying) the connection is closed and the waits throw that
error; C<close> during a wait ends it (and throws
L<Tether::X::ConnectionLost>: no closing handshake took place).

    my $ws = Tether::Blocking::Client->connect(
        url          => 'ws://127.0.0.1:9000/',
        reconnect    => { delay => 0.5, max_delay => 10 },
        on_reconnect => sub { $_[0]->send_text('hello again') },
        on_retry     => sub { warn "retrying in $_[1] s: ", $_[0]->message, "\n" },
    );
    while (defined(my $msg = $ws->recv(undef))) {
        print "$msg\n";
    }

Each client has its own tether context, so clients in one program do not
wait for one another.

=cut
