# Independent peers in Perl: Mojolicious' WebSocket server and client, and
# AnyEvent::WebSocket::Client, against Tether's client and server.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tether qw(HAS_PMD);
use Tether::Client;
use Tether::Server;
use LoopTests qw(settle);

BEGIN { $ENV{MOJO_LOG_LEVEL} = 'fatal' }
use Mojo::IOLoop;
use Mojo::Server::Daemon;
use Mojo::UserAgent;
use Mojolicious::Lite;

# A Mojolicious echo server, in this process on Mojo's loop.
websocket '/echo' => sub {
    my ($c) = @_;
    $c->tx->with_compression;    # Mojolicious' permessage-deflate, when offered
    $c->on(message => sub {
        my ($c, $msg) = @_;
        if ($msg eq 'please close') { $c->finish(4321, 'as you wish'); return }
        $c->send({ binary => $msg }) if !utf8::is_utf8($msg) && $msg =~ /[\x80-\xff]/;
        $c->send($msg) unless !utf8::is_utf8($msg) && $msg =~ /[\x80-\xff]/;
    });
};
my $daemon = Mojo::Server::Daemon->new(app => app, listen => ['http://127.0.0.1'], silent => 1);
$daemon->start;
my $mojo_port = Mojo::IOLoop->acceptor($daemon->acceptors->[0])->port;
my $mojo_url  = "ws://127.0.0.1:$mojo_port/echo";

subtest 'Tether client -> Mojolicious server' => sub {
    my (@got, $ext);
    my $done = Tether::Client::connect(
        url         => $mojo_url,
        event       => 'Mojolicious',
        # No server_max_window_bits in the offer: Mojolicious answers a bare
        # "permessage-deflate" (window 15), which a client that asked for a
        # smaller server window must refuse (RFC 7692 7.1.2.1).
        compression => HAS_PMD ? { window_bits => [ 0, 12 ] } : 0,
        on_ready    => sub {
            my ($c) = @_;
            $ext = $c->extensions;
            $c->on_text(sub { push @got, $_[0]; $c->close if @got == 2 });
            $c->send_text("\x{263a} smile");
            $c->send_text('x' x 100_000);
        },
    );
    my ($ok, $v) = settle('Mojolicious', $done);
    ok($ok, 'closed normally') or diag "$v";
    is($got[0], "\x{263a} smile", 'unicode text echoed by Mojolicious');
    is(length $got[1], 100_000, '100 kB text echoed');
  SKIP: {
        skip 'no permessage-deflate in this library', 1 unless HAS_PMD;
        like($ext // '', qr/permessage-deflate/, 'compression negotiated with Mojolicious');
    }

    my $done2 = Tether::Client::connect(
        url      => $mojo_url,
        event    => 'Mojolicious',
        on_ready => sub { $_[0]->send_text('please close') },
    );
    my ($ok2, $err) = settle('Mojolicious', $done2);
    isa_ok($err, 'Tether::X::WebSocketClose', 'Mojolicious closes with 4321');
    is(eval { $err->close_code }, 4321, 'code');
    is(eval { $err->reason }, 'as you wish', 'reason');
};

subtest 'Mojolicious client -> Tether server' => sub {
    my $server = Tether::Server->new(
        event         => 'Mojolicious',
        # Mojolicious offers a bare "permessage-deflate": with the default
        # client window limit (12), tether declines such an offer; with no
        # limit on the client's window it accepts.
        compression   => HAS_PMD ? { window_bits => [ 12, 0 ] } : 0,
        on_connection => sub {
            my ($c) = @_;
            $c->on_text(sub { $c->send_text("echo: $_[0]") });
            $c->on_binary(sub { $c->send_binary($_[0]) });
        },
    );
    my $ua = Mojo::UserAgent->new;
    my (@got, $ext, $code);
    my $p = Mojo::Promise->new;
    my @offer = HAS_PMD ? ({ 'Sec-WebSocket-Extensions' => 'permessage-deflate' }) : ();
    $ua->websocket($server->url => @offer => sub {
        my ($ua, $tx) = @_;
        return $p->reject('handshake failed') unless $tx->is_websocket;
        $ext = $tx->res->headers->sec_websocket_extensions;
        $tx->on(message => sub {
            my ($tx, $msg) = @_;
            push @got, $msg;
            $tx->finish(1000) if @got == 2;
        });
        $tx->on(finish => sub { $code = $_[1]; $p->resolve });
        $tx->send("caf\x{e9}");
        $tx->send({ binary => "\x00\xff" x 5000 });
    });
    my ($ok, $v) = settle('Mojolicious', $p);
    ok($ok, 'Mojolicious client finished') or diag "$v";
    is($got[0], "echo: caf\x{e9}", 'text from Tether::Server');
    is($got[1], "\x00\xff" x 5000, 'binary from Tether::Server');
    is($code, 1000, 'closed with 1000');
  SKIP: {
        skip 'no permessage-deflate in this library', 1 unless HAS_PMD;
        like($ext // '', qr/permessage-deflate/, 'Mojolicious client negotiated compression');
    }
    $server->close;
};

subtest 'AnyEvent::WebSocket::Client -> Tether server' => sub {
    plan skip_all => 'AnyEvent::WebSocket::Client not installed'
      unless eval { require AnyEvent::WebSocket::Client; 1 };
    require AnyEvent;
    my $closed_with;
    my $server_done = AE::cv();
    my $server = Tether::Server->new(
        event         => 'AnyEvent',
        on_connection => sub {
            my ($c) = @_;
            $c->on_text(sub {
                $c->send_text(scalar reverse $_[0]);
                $c->close(1000, 'enough') if $_[0] eq 'stop';
            });
            $c->done->cb(sub { $closed_with = eval { $_[0]->recv } || $@; $server_done->send });
        },
    );
    my $client = AnyEvent::WebSocket::Client->new;
    my $cv = AE::cv();
    my $t = AE::timer(10, 0, sub { $cv->croak('timeout') });
    my (@got, $conn);
    $client->connect($server->url)->cb(sub {
        $conn = eval { shift->recv } or return $cv->croak("connect failed: $@");
        $conn->on(each_message => sub { push @got, $_[1]->decoded_body });
        $conn->on(finish => sub { $cv->send });
        $conn->send('abc');
        $conn->send("\x{263a}\x{e9}");
        $conn->send('stop');
    });
    eval { $cv->recv };
    is($@, '', 'finished');
    my $t1 = AE::timer(10, 0, sub { $server_done->send });
    $server_done->recv;
    is_deeply(\@got, [ 'cba', "\x{e9}\x{263a}", 'pots' ], 'messages through AnyEvent::WebSocket::Client');
    # AnyEvent::WebSocket::Client answers a close with code 1005 on the wire
    # (its close() defaults to 1005), which RFC 6455 forbids: tether says so.
    isa_ok($closed_with, 'Tether::X::Protocol', 'its answer to our close (1005 on the wire)');
    like(eval { $closed_with->message } // '', qr/status code not allowed/, '... explained');

    # When it closes first, with a code, all is well.
    my $normal;
    my $cv2 = AE::cv();
    my $t2 = AE::timer(10, 0, sub { $cv2->croak('timeout') });
    $server->{on_connection} = sub {
        my ($c) = @_;
        $c->done->cb(sub { $normal = eval { $_[0]->recv } || $@; $cv2->send });
    };
    my $conn2;
    $client->connect($server->url)->cb(sub {
        $conn2 = eval { shift->recv } or return $cv2->croak("connect failed: $@");
        $conn2->close(1000, 'from AnyEvent::WebSocket::Client');
    });
    eval { $cv2->recv };
    is_deeply($normal, [ 1000, 'from AnyEvent::WebSocket::Client' ], 'its close with 1000');
    $server->close;
};

done_testing;
