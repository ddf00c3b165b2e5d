package Tether::Client;

use strict;
use warnings;

use Tether ();
use Tether::Context ();
use Tether::Courier ();
use Tether::Loop ();
use Tether::Options ();
use Tether::Raw ();
use Tether::X ();

my %OWN = map { $_ => 1 } qw(url event loop on_ready on_reconnect on_retry);
my %KNOWN = (%OWN, map { $_ => 1 } Tether::Options::names());

sub connect {
    shift if @_ % 2 && defined $_[0] && $_[0] eq __PACKAGE__;
    my %args = @_;
    for (sort keys %args) {
        Tether::X::Usage->throw("unknown option '$_' for Tether::Client::connect")
          unless $KNOWN{$_};
    }
    Tether::X::Usage->throw('url => ... is required') unless defined $args{url};
    for my $cb (qw(on_ready on_reconnect on_retry)) {
        Tether::X::Usage->throw("$cb must be a code reference")
          if defined $args{$cb} && ref $args{$cb} ne 'CODE';
    }

    my $adapter = Tether::Loop->adapter($args{event}, $args{loop});
    my $context = Tether::Context->shared($adapter);
    my $opts    = Tether::Options->build(\%args, 'client');
    my ($rc, $conn) = Tether::Raw::tether_connect($context->ctx, $args{url}, $opts);
    Tether::Raw::tether_opts_free($opts);
    if ($rc < 0) {
        my ($p, undef, $reject) = $adapter->deferred;
        $reject->(Tether::X::from_code($rc, message => "cannot connect to $args{url}: "
                  . Tether::Raw::tether_strerror($rc)));
        return $p;
    }
    my $courier = Tether::Courier->_new(
        context => $context,
        conn    => $conn,
        id      => Tether::Raw::tether_conn_id($conn),
        role    => 'client',
        on_open => $args{on_ready},
        on_reconnect => $args{on_reconnect},
        on_retry     => $args{on_retry},
    );
    $context->arm;
    return $courier->done;
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Client - a WebSocket client on AnyEvent, IO::Async or Mojolicious

=head1 SYNOPSIS

    use AnyEvent;
    use Tether::Client;

    my $cv = AE::cv();

    my $done = Tether::Client::connect(
        url          => 'ws://127.0.0.1:9000/chat',
        event        => 'AnyEvent',               # or 'IO::Async', 'Mojolicious'
        headers      => [ 'X-Token' => 'secret' ],
        subprotocols => ['chat'],
        compression  => 1,
        reconnect    => { delay => 1, max_delay => 30 },    # if it drops, again
        on_retry     => sub {
            my ($error, $delay, $attempt) = @_;
            warn 'lost: ', $error->message, "; attempt $attempt in $delay s\n";
        },
        on_ready     => sub {
            my ($courier) = @_;
            $courier->on_text(sub {
                my ($characters) = @_;
                print "got: $characters\n";
                $courier->close(1000, 'bye');
            });
            $courier->send_text('hello');
        },
    );

    # The promise of the connection's end: here an AnyEvent condvar.
    $done->cb(sub {
        my ($code, $reason) = eval { @{ $_[0]->recv } };
        print $@ ? "failed: $@" : "closed: $code\n";
        $cv->send;
    });
    $cv->recv;

=head1 DESCRIPTION

The client side of the event-driven API, shaped like
L<Net::Libwebsockets::WebSocket::Client>.

=head1 FUNCTIONS

=head2 connect( %OPTIONS )

Starts a connection and returns a promise of its end, in the loop's own
kind:

=over

=item C<< event => 'AnyEvent' >>: a L<Tether::Promise> (C<then>, C<catch>,
C<finally>, as Net::Libwebsockets' promise; and C<recv>, which returns
C<[code, reason]> or dies with the error object, as an L<AnyEvent::CondVar>);

=item C<< event => 'IO::Async' >> (or C<'IOAsync'>, or C<< ['IOAsync', $loop] >>
as Net::Libwebsockets takes it): a L<Future> (C<get>, C<then>,
C<on_fail>...);

=item C<< event => 'Mojolicious' >>: a L<Mojo::Promise> (C<then>, C<catch>,
C<wait>...).

=back

The promise resolves with C<[code, reason]> when the closing handshake
completes with code 1000 (normal) or 1005 (the peer sent no code), whoever
started it, and rejects with a L<Tether::X> object otherwise: the
connection could not be made (L<Tether::X::Connect>, L<Tether::X::DNS>,
L<Tether::X::Timeout>), the upgrade was refused (L<Tether::X::Handshake>,
with C<status>), TLS failed (L<Tether::X::TLSVerify>...), a side broke the
protocol (L<Tether::X::Protocol>), the TCP connection dropped
(L<Tether::X::ConnectionLost>), or the close carried another code
(L<Tether::X::WebSocketClose>).

Options:

=over

=item C<url> (required) - C<ws://host[:port][/path][?query]> or C<wss://...>.

=item C<event> (required) - C<'AnyEvent'>, C<'IO::Async'> or
C<'Mojolicious'>; C<loop> - the L<IO::Async::Loop> or L<Mojo::IOLoop> to
use (default: the process's).

=item C<on_ready> - C<< sub ($courier) {...} >>, called when the
connection is open, with its L<Tether::Courier>. Once: with C<reconnect>,
the same courier (and the listeners set on it) stays across reconnections,
and C<on_reconnect> says when it is open again.

=item C<reconnect> - connect again when the connection fails or is lost
(see L</RECONNECTING>): C<1> for the defaults, a hash
C<< { delay => 2, max_delay => 60, jitter => 20, max_tries => 0 } >>, or
an array of delays C<< [ 0.1, 0.5, 2 ] >>. Off by default.

=item C<on_retry> - C<< sub ($error, $delay, $attempt, $courier) {...} >>,
with C<reconnect>: called each time the connection ends (or could not be
made) and will be made again in C<$delay> seconds; C<$error> is the
L<Tether::X> object the promise would have rejected with, C<$attempt>
counts from 1 since the connection was last open.

=item C<on_reconnect> - C<< sub ($courier) {...} >>, with C<reconnect>:
called each time the connection is open again after a retry (not the
first time: that is C<on_ready>), with the same courier.

=item C<headers>, C<subprotocols>, C<origin>, C<tls>, C<compression>, and
the limits and timeouts - see L<Tether::Options>. For example
C<< tls => { ca_file => 'ca.pem' } >>, or
C<< tls => { flags => Tether::TLS_ALLOW_SELFSIGNED } >> for a test server.

=back

Bad options throw L<Tether::X::Usage> at once.

=head1 RECONNECTING

With C<reconnect>, a connection that cannot be made or is lost is made
again, by the C library's retry policy (C<tether_opts_set_retry_backoff>
and C<tether_opts_set_retry_steps> in F<tether.h>). What is retried, as
Python websockets' C<connect()> does it: failures to resolve, connect,
or complete TLS, timeouts, a connection lost without a closing handshake,
an HTTP 5xx answer, and a server that closes with 1001 (going away), 1011,
1012 (restart), 1013 (try again later) or 1014. Never: a close you asked
for, a 1000 from the server, HTTP 4xx, a proxy's refusal, a certificate
refused, a broken protocol; those end the connection as without
C<reconnect>.

=over

=item C<< reconnect => 1 >> - the defaults: a first delay of 2 seconds,
doubled at each attempt up to 60 seconds, each with up to 20% more at
random, without limit.

=item C<< reconnect => { delay => $s, max_delay => $s, jitter => $percent, max_tries => $n } >>
- exponential backoff: attempt I<n> waits C<delay * 2**(n-1)> seconds, at
most C<max_delay> (default 60, or C<delay> if that is longer), plus up to
C<jitter> percent (0 to 100, default 20) at random; C<max_tries> attempts
in a row before giving up (default 0: no limit). Keys left out take the
defaults above.

=item C<< reconnect => [ 0.1, 0.5, 2 ] >> - a table: attempt I<n> waits the
I<n>th delay (seconds), the last one repeating; no jitter, no limit. For
both, C<< { steps => [...], jitter => 10, max_tries => 5 } >>.

=item C<< reconnect => 0 >> (or C<undef>) - off.

=back

Delays are in seconds (fractions allowed; the library counts
milliseconds). An attempt that succeeds starts the count again.

Meanwhile:

=over

=item * the courier stays the same object, with its listeners: C<on_ready>
is called once, C<on_reconnect> on each later open. Set listeners up in
C<on_ready>; send what a new connection needs (a login, a subscription)
in both, or in a sub both call;

=item * C<on_retry> is called each time the connection is to be made
again, with why, when and which attempt; it may call
C<< $courier->close >> to give up;

=item * between a retry and the next open, C<state> is C<connecting>, and
C<send_text>, C<send_binary> and C<ping> throw L<Tether::X::NotOpen>:
messages are not kept for the next connection;

=item * the promise settles only at the real end: when the connection
closes normally, when an end is not worth retrying, when C<max_tries> is
reached (it rejects with the last error, e.g. L<Tether::X::Connect> with
C<errno> C<ECONNREFUSED>), or when C<close> is called during a wait (it
rejects with L<Tether::X::ConnectionLost>, close code 1006, reason
C<cancelled before the connection opened>);

=item * C<< $courier->stats >> counts across the connections (C<reconnects>:
the times it opened again).

=back

    my $done = Tether::Client::connect(
        url          => 'wss://example.com/feed',
        event        => 'AnyEvent',
        reconnect    => 1,
        on_ready     => sub {
            my ($courier) = @_;
            $courier->on_text(sub { print "tick: $_[0]\n" });
            $courier->send_text('subscribe');
        },
        on_reconnect => sub { $_[0]->send_text('subscribe') },
        on_retry     => sub {
            my ($error, $delay, $attempt) = @_;
            warn "feed lost: ", $error->message, "; attempt $attempt in ${delay}s\n";
        },
    );

=cut
