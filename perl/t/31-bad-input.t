# Bad input from the network and from the caller.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use AnyEvent;
use IO::Socket::INET;
use Tether;
use Tether::Client;
use Tether::Server;
use LoopTests qw(settle);
use TetherTest qw(with_timeout);

my ($conn_req, @couriers);
my $server = Tether::Server->new(
    event         => 'AnyEvent',
    on_request    => sub { $conn_req = $_[0] },
    on_connection => sub {
        my ($c) = @_;
        push @couriers, $c;
        $c->on_text(sub { $c->send_text($_[0]) });
    },
);
my $port = $server->port;

# Garbage and half-requests on the wire: answered or dropped, the server
# goes on.
for my $junk ("\x00\xff\x16\x03\x01garbage\r\n\r\n", "GET / HTTP/1.0\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      . "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
    "GET / HTTP/1.1\r\n" . ("X-Pad: " . ('p' x 1000) . "\r\n") x 40 . "\r\n",
    "POST / HTTP/1.1\r\nHost: x\r\n\r\n")
{
    my $s = IO::Socket::INET->new("127.0.0.1:$port") or die;
    syswrite $s, $junk;
    my $cv = AE::cv();
    my $buf = '';
    my $w = AE::io($s, 0, sub { sysread($s, $buf, 4096, length $buf) or $cv->send });
    my $t = AE::timer(5, 0, sub { $cv->send });
    $cv->recv;
    like($buf, qr{^(?:HTTP/1\.1 4\d\d |)}, 'junk request: an HTTP error or nothing, ' . length($junk) . ' bytes');
}
ok(!$conn_req, 'no junk request reached on_request');

my $done = Tether::Client::connect(
    url      => $server->url,
    event    => 'AnyEvent',
    on_ready => sub {
        my ($c) = @_;
        $c->on_text(sub { $c->close });
        $c->send_text('still alive');
    },
);
ok((settle('AnyEvent', $done))[0], 'the server still works');

# Caller mistakes: errors at once, as Tether::X::Usage.
my $url = $server->url;
my %bad = (
    'header name with a space'  => [ headers      => [ 'Bad Name' => 'x' ] ],
    'header value with CRLF'    => [ headers      => [ 'X-A' => "a\r\nInjected: 1" ] ],
    'odd header list'           => [ headers      => ['X-Only'] ],
    'tls not a hash'            => [ tls          => 'yes' ],
    'unknown tls key'           => [ tls          => { cafile => 'x' } ],
    'unknown compression key'   => [ compression  => { windowbits => 9 } ],
    'compression not 1 or hash' => [ compression  => [1] ],
    'zero max_message'          => [ max_message  => 0 ],
    'zero close timeout'        => [ close_timeout => 0 ],
);
for my $name (sort keys %bad) {
    eval { Tether::Client::connect(url => $url, event => 'AnyEvent', @{ $bad{$name} }) };
    isa_ok($@, 'Tether::X::Usage', $name);
}
eval { Tether::Client::connect(event => 'AnyEvent') };
isa_ok($@, 'Tether::X::Usage', 'no url');
eval { Tether::Client::connect(url => $url, event => 'AnyEvent', on_ready => 'x') };
isa_ok($@, 'Tether::X::Usage', 'on_ready not code');
eval { Tether::Server->new(event => 'AnyEvent') };
isa_ok($@, 'Tether::X::Usage', 'server without on_connection');
eval { Tether::Server->new(event => 'AnyEvent', on_connection => sub { }, host => 'not an address!') };
isa_ok($@, 'Tether::X::Base', 'server on a bad host');
for my $u ('http://127.0.0.1/', 'ws://', 'ws://[::1/', 'nonsense') {
    my $p = Tether::Client::connect(url => $u, event => 'AnyEvent');
    isa_ok((settle('AnyEvent', $p))[1], 'Tether::X::Usage', "bad URL '$u'");
}

# Misuse of an open courier.
my @errors;
$done = Tether::Client::connect(
    url      => $url,
    event    => 'AnyEvent',
    on_ready => sub {
        my ($c) = @_;
        for my $try (
            [ 'binary with wide characters' => sub { $c->send_binary("\x{263a}") } ],
            [ 'ping over 125 bytes'         => sub { $c->ping('p' x 126) } ],
            [ 'close with 1005'             => sub { $c->close(1005) } ],
            [ 'close with 999'              => sub { $c->close(999) } ],
            [ 'close reason over 123 bytes' => sub { $c->close(1000, 'r' x 124) } ],
          )
        {
            eval { $try->[1]->() };
            push @errors, [ $try->[0], $@ ];
        }
        $c->close(1000, "\x{263a}" x 41);    # 123 bytes: fine
    },
);
my ($ok) = settle('AnyEvent', $done);
ok($ok, 'the connection survived the mistakes');
for (@errors) {
    isa_ok($_->[1], 'Tether::X::Usage', $_->[0]);
}
eval { $conn_req->path };
isa_ok($@, 'Tether::X::NotOpen', 'a request used after on_request');
is($couriers[-1]->path, undef, 'a closed courier answers undef');

$server->close;
done_testing;
