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

my %OWN = map { $_ => 1 } qw(url event loop on_ready);
my %KNOWN = (%OWN, map { $_ => 1 } Tether::Options::names());

sub connect {
    shift if @_ % 2 && defined $_[0] && $_[0] eq __PACKAGE__;
    my %args = @_;
    for (sort keys %args) {
        Tether::X::Usage->throw("unknown option '$_' for Tether::Client::connect")
          unless $KNOWN{$_};
    }
    Tether::X::Usage->throw('url => ... is required') unless defined $args{url};
    Tether::X::Usage->throw('on_ready must be a code reference')
      if defined $args{on_ready} && ref $args{on_ready} ne 'CODE';

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

=item C<< event => 'AnyEvent' >>: an L<AnyEvent::CondVar> (C<recv> returns
C<[code, reason]> or dies with the error object);

=item C<< event => 'IO::Async' >>: a L<Future> (C<get>, C<then>,
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
connection is open, with its L<Tether::Courier>.

=item C<headers>, C<subprotocols>, C<origin>, C<tls>, C<compression>, and
the limits and timeouts - see L<Tether::Options>. For example
C<< tls => { ca_file => 'ca.pem' } >>, or
C<< tls => { flags => Tether::TLS_ALLOW_SELFSIGNED } >> for a test server.

=back

Bad options throw L<Tether::X::Usage> at once.

=cut
