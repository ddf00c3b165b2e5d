package Tether::Blocking::Client;

use strict;
use warnings;

use Tether ();
use Tether::Blocking::Connection ();
use Tether::Blocking::Context ();
use Tether::Options ();
use Tether::Raw ();
use Tether::X ();

my %KNOWN = ((map { $_ => 1 } qw(url timeout)), map { $_ => 1 } Tether::Options::names());

sub connect {
    my ($class, %args) = @_;
    for (sort keys %args) {
        Tether::X::Usage->throw("unknown option '$_' for Tether::Blocking::Client->connect")
          unless $KNOWN{$_};
    }
    Tether::X::Usage->throw('url => ... is required') unless defined $args{url};
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
C<compression>, limits, timeouts).

Each client has its own tether context, so clients in one program do not
wait for one another.

=cut
