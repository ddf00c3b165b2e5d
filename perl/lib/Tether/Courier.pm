package Tether::Courier;

use strict;
use warnings;

use Scalar::Util ();
use Tether::Endpoint ();
use Tether::Raw ();
use Tether::X ();

# What it shares with Tether::Blocking::Connection: sends, accessors.
our @ISA = ('Tether::Endpoint');

my $OP_TEXT   = $Tether::Raw::TETHER_OP_TEXT;
my $NORMAL    = $Tether::Raw::TETHER_CLOSE_NORMAL;
my $NO_STATUS = $Tether::Raw::TETHER_CLOSE_NO_STATUS;

# Made by Tether::Client and Tether::Server, never by users.
sub _new {
    my ($class, %a) = @_;
    my $self = bless {
        context => $a{context},
        conn    => $a{conn},
        id      => $a{id},
        role    => $a{role},
        state   => 'connecting',
        on_open => $a{on_open},
        on_reconnect => $a{on_reconnect},
        on_retry     => $a{on_retry},
        opened  => 0,
        text    => [],
        binary  => [],
    }, $class;
    $a{context}->add_conn($a{id}, $self);
    return $self;
}

sub _call {
    my ($self, $what, $cb, @args) = @_;
    my $ok = eval { $cb->(@args); 1 };
    warn "Tether: the $what callback died: $@" unless $ok;
}

# ---- What the context calls -------------------------------------------

# The first OPEN calls on_ready (on_connection on a server); an OPEN after
# a RETRY (a client with reconnect) calls on_reconnect, with the same
# courier and the listeners it already has.
sub _open {
    my ($self) = @_;
    $self->{state} = 'open';
    my ($what, $cb) = $self->{opened}++
      ? ('on_reconnect', $self->{on_reconnect})
      : ('on_ready', delete $self->{on_open});
    return unless $cb;
    my $ok = eval { $cb->($self); 1 };
    return if $ok;
    my $err = $@;
    warn "Tether: the $what callback died: $err";
    $self->close($Tether::Raw::TETHER_CLOSE_INTERNAL_ERROR, 'application error')
      if $self->{state} eq 'open';
}

# A client with reconnect lost its connection (or could not make it) and
# connects again after $delay_ms: on_retry hears why.
sub _retry {
    my ($self, $code, $reason, $clean, $error, $text, $http_status, $os_error, $delay_ms,
        $attempt) = @_;
    $self->{state} = 'connecting';
    my $cb = $self->{on_retry} or return;
    my $err =
      Tether::X::from_close($code, $reason, $clean, $error, $text, $http_status, $os_error);
    $self->_call('on_retry', $cb, $err, $delay_ms / 1000, $attempt, $self);
}

sub _message {
    my ($self, $opcode, $data) = @_;
    my $list = $opcode == $OP_TEXT ? $self->{text} : $self->{binary};
    if (!@$list) {
        my $kind = $opcode == $OP_TEXT ? 'text' : 'binary';
        warn "Tether: a $kind message arrived, but no on_$kind listener is set\n";
        return;
    }
    for my $cb (@$list) {
        my $ok = eval { $cb->($data); 1 };    # one argument, as Net::Libwebsockets
        warn "Tether: an on_text/on_binary callback died: $@" unless $ok;
    }
}

sub _ping {
    my ($self, $data) = @_;
    $self->_call('on_ping', $_, $data, $self) for @{ $self->{ping} || [] };
}

sub _pong {
    my ($self, $data) = @_;
    $self->_call('on_pong', $_, $data, $self) for @{ $self->{pong} || [] };
}

sub _drain {
    my ($self) = @_;
    $self->_call('on_drain', $_, $self) for @{ $self->{drain} || [] };
}

sub _closed {
    my ($self, $code, $reason, $clean, $error, $text, $http_status, $os_error, $stats) = @_;
    $self->{state}  = 'closed';
    $self->{conn}   = undef;
    $self->{status} = [ $code, $reason ];
    $self->{stats}  = $stats;    # the last figures, for stats() after the end
    # What the user set up can refer to this object: let it go now.
    delete @$self{qw(text binary ping pong drain on_open on_reconnect on_retry)};
    my $err =
      Tether::X::from_close($code, $reason, $clean, $error, $text, $http_status, $os_error);
    $self->{result} = $err ? [ 0, $err ] : [ 1, [ $code, $reason ] ];
    $self->_settle;
}

# Settles the promise, if someone asked for it.
sub _settle {
    my ($self) = @_;
    my ($resolve, $reject) = delete @$self{qw(resolve reject)};
    return unless $resolve;
    my ($ok, $value) = @{ $self->{result} };
    $ok ? $resolve->($value) : $reject->($value);
}


# ---- The public API -----------------------------------------------------

sub on_text   { push @{ $_[0]{text} },   $_[1]; $_[0] }
sub on_binary { push @{ $_[0]{binary} }, $_[1]; $_[0] }
sub on_ping   { push @{ $_[0]{ping} },   $_[1]; $_[0] }
sub on_pong   { push @{ $_[0]{pong} },   $_[1]; $_[0] }
sub on_drain  { push @{ $_[0]{drain} },  $_[1]; $_[0] }

sub ping {
    my ($self, $payload) = @_;
    $payload //= '';
    my $rc = Tether::Raw::tether_conn_ping($self->_conn, $payload);
    return Tether::Endpoint::_not_sent($self) if $rc == $Tether::Raw::TETHER_E_STATE;
    Tether::X::throw_code($rc) if $rc < 0;
    $self->{context}->arm;
    return 1;
}

# Called for a value, it returns the promise of the end (done), as
# Net::Libwebsockets' close returns one.
sub close {
    my ($self, $code, $reason) = @_;
    if ($self->{state} ne 'closed' && $self->{state} ne 'closing') {
        $code   //= $NORMAL;
        $reason //= '';
        utf8::encode($reason);
        my $rc = Tether::Raw::tether_conn_close($self->_conn, $code, $reason);
        Tether::Endpoint::_close_failed($rc, $code) if $rc < 0;
        $self->{state} = 'closing';
        $self->{context}->arm;
    }
    return defined wantarray ? $self->done : ();
}

# The promise of the end, made when first asked for (so that a connection
# nobody waits on leaves no rejected promise behind).
sub done {
    my ($self) = @_;
    return $self->{done} if $self->{done};
    my ($promise, $resolve, $reject) = $self->{context}->adapter->deferred;
    @$self{qw(done resolve reject)} = ($promise, $resolve, $reject);
    $self->_settle if $self->{result};
    return $promise;
}

sub buffered   { $_[0]{conn} ? Tether::Raw::tether_conn_buffered($_[0]{conn}) : 0 }

# Called for a value, it returns a guard that resumes when it goes away,
# as Net::Libwebsockets' pause() does; in void context the pause lasts
# until resume().
sub pause {
    my ($self) = @_;
    Tether::Raw::tether_conn_pause_reading($self->_conn, 1);
    return unless defined wantarray;
    my $weak = $self;
    Scalar::Util::weaken($weak);
    return bless \$weak, 'Tether::Courier::Pause';
}

package Tether::Courier::Pause {
    sub DESTROY {
        my ($self) = @_;
        my $courier = $$self or return;
        eval { $courier->resume if $courier->{conn}; 1 };
    }
}

package Tether::Courier;

sub resume {
    my ($self) = @_;
    Tether::Raw::tether_conn_pause_reading($self->_conn, 0);
    $self->{context}->arm;
    return;
}

sub DESTROY {
    my ($self) = @_;
    if (${^GLOBAL_PHASE} eq 'DESTRUCT') {
        warn "Tether::Courier destroyed at global destruction; memory leak likely\n";
    }
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Courier - one WebSocket connection, as a client or server sees it

=head1 SYNOPSIS

    use AnyEvent;
    use Tether::Client;

    my $cv = AE::cv();
    Tether::Client::connect(
        url      => 'ws://127.0.0.1:9000/',
        event    => 'AnyEvent',
        on_ready => sub {
            my ($courier) = @_;

            # If a message arrives for a type with no listener, Tether warns.
            $courier->on_text(sub {
                my ($characters) = @_;
                $courier->send_binary("\x00\x01");
            });
            $courier->on_binary(sub {
                my ($bytes) = @_;
                $courier->close(1000, 'done');
            });
            $courier->on_pong(sub { print "pong: $_[0]\n" });

            $courier->ping('are you there?');
            $courier->send_text("h\x{e9}llo \x{263a}");
        },
    )->cb(sub { eval { $_[0]->recv }; $cv->send });
    $cv->recv;

=head1 DESCRIPTION

A courier ferries messages between your code and the peer, as in
L<Net::Libwebsockets>. L<Tether::Client> gives one to C<on_ready> when the
connection opens, and L<Tether::Server> gives one to C<on_connection> for
each client: the same class on both sides. A client's courier outlives
its connection with C<reconnect> (L<Tether::Client/RECONNECTING>): the
same object, with its listeners, carries the next connection, and
C<on_reconnect> is called with it.

Text is Perl characters (encoded to and decoded from UTF-8 for you); binary
is bytes. Messages arrive whole (up to C<max_message>, 16 MiB by default).

=head1 METHODS

=head2 send_text( $characters ), send_binary( $bytes )

Queue a message and return 1; never block. While the connection is
closing (the closing handshake has begun, from either side) nothing can be
sent any more: the message is dropped and they return 0, so that a
listener answering a message that raced with the peer's close does not
fail. Once the connection is closed, and while a client with C<reconnect>
waits to connect again (state C<connecting>, between C<on_retry> and
C<on_reconnect>), they throw L<Tether::X::NotOpen>. They
throw L<Tether::X::Backpressure> when the send queue is at its limit (see
C<send_limit> and C<on_drain>), and L<Tether::X::Usage> for a binary string
holding characters above 255.

=head2 on_text( sub ($characters) {...} ), on_binary( sub ($bytes) {...} )

Add a listener for text or binary messages (several may be added; each is
called in turn). The listener gets the message alone, as
Net::Libwebsockets' does, so a signature of one argument works. A message of a type with no listener is dropped with a
warning. A listener that dies is reported with C<warn>.

=head2 ping( [$payload] ), on_ping( sub ($payload) ), on_pong( sub ($payload) )

Send a ping (at most 125 bytes; returns 0, as sends do, while closing,
and throws L<Tether::X::NotOpen> while reconnecting); pongs arrive through
C<on_pong>, and its round trip is in C<stats>. Pings
from the peer are answered by the library and reported to C<on_ping>.

=head2 close( [$code [, $reason]] )

Start the closing handshake (default 1000, no reason). The promise settles
when the peer answers, or after the close timeout; C<close> returns it (the
same as C<done>), as Net::Libwebsockets' does. Calling it again only
returns the promise. A client with C<reconnect> that waits to connect again ends
there and then, and is never retried: the promise rejects with
L<Tether::X::ConnectionLost> (close code 1006).

=head2 done

The promise of the connection's end (for a client, the one
L<Tether::Client/connect> returned): it resolves with C<[code, reason]>
when the closing handshake completes with 1000 or 1005 (no code), and
rejects with a L<Tether::X> object otherwise. With C<reconnect>, only at
the end of the last connection, never at a retry.

=head2 stats

The connection's figures, from the C library's C<tether_conn_stats()>: a
new hash reference each call, with the C struct's field names. Durations
of the latest opening, in microseconds (0 for a step that did not happen:
a server resolves and connects nothing, a cleartext connection has no
TLS):

=over

=item C<resolve_us>, C<connect_us>, C<proxy_us> - a client's name
resolution, TCP connect (every address tried) and proxy handshake;

=item C<tls_us>, C<handshake_us> - the TLS handshake and the WebSocket
one (request to 101);

=item C<rtt_us>, C<rtt_min_us>, C<rtt_max_us>, C<rtt_samples> - round
trips of our pings (C<ping>, or the C<ping_interval> keepalive) to their
pongs, in microseconds: the last, least and most, and how many;

=item C<wire_in>, C<wire_out> - bytes on the wire each way (frames after
compression, with the handshake, TLS and the proxy's bytes);

=item C<messages_in>, C<messages_out>, C<payload_in>, C<payload_out> -
whole messages each way and their payload bytes as the application sees
them (text as UTF-8, before compression and after decompression);

=item C<reconnects> - a client with C<reconnect>: the times the
connection opened again (a refused attempt does not count).

=back

Counters run from the start, across reconnections. Once the connection
is closed it returns the last figures, taken at the end.

    $courier->on_pong(sub {
        my $s = $courier->stats;
        printf "rtt %.1f ms, %d messages in, %d bytes on the wire\n",
            $s->{rtt_us} / 1000, $s->{messages_in}, $s->{wire_in};
    });
    $courier->ping;

=head2 on_drain( sub ($courier) {...} ), buffered, pause, resume

Backpressure: C<buffered> is the number of bytes queued; C<on_drain> is
called when the queue has fallen back under C<drain_mark>; C<pause> stops
reading from the peer and C<resume> starts again. Called for a value,
C<pause> returns a guard, as Net::Libwebsockets' does: reading resumes when
the guard goes away (C<< my $guard = $courier->pause; ... undef $guard; >>).

=head2 Accessors

C<id>, C<role> (C<client> or C<server>), C<state> (C<connecting>, C<open>,
C<closing>, C<closed>; C<connecting> again while a client with
C<reconnect> waits to connect again), C<is_open>, C<protocol> (the chosen sub-protocol),
C<extensions> (the negotiated Sec-WebSocket-Extensions, e.g.
C<permessage-deflate>), C<header($name)> (a server: the request's header;
a client: the response's), C<path>, C<query>, C<peer> (server side),
C<http_status> (client side), C<tls_version>, C<tls_cipher>,
C<http2_stream> (the HTTP/2 stream the WebSocket is on, RFC 8441, or 0 on
HTTP/1.1), and C<status> (C<[code, reason]> once closed). The connection accessors return C<undef>
once the connection is closed.

=head1 LEAKS

A courier that is destroyed at global destruction warns: it was still
referenced when the program ended (see L<Tether/MEMORY LEAK DETECTION>).
Closures given to C<on_*> (and C<on_retry>, C<on_reconnect>) may refer to
the courier: Tether drops them when the connection closes, so that no
cycle is left.

=cut
