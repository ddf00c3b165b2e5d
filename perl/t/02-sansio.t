# The sans-I/O layer: frames, parser, handshakes, permessage-deflate.
use strict;
use warnings;
use Test::More;

use Tether::Connection;
use Tether::Deflate;
use Tether::Frame;
use Tether::Handshake::Client;
use Tether::Handshake::Server;
use Tether::Parser;

# ---- Frames ----------------------------------------------------------------
is(unpack('H*', Tether::Frame->text('Hello')->to_bytes('server')), '810548656c6c6f', 'text frame');
my $masked = Tether::Frame->text('Hello')->to_bytes('client');
is(length $masked, 11, 'client frames are masked (4 more bytes)');
is(ord(substr $masked, 1, 1) & 0x80, 0x80, 'MASK bit set');
my $ping = Tether::Frame->ping('x' x 125)->to_bytes('server');
is(length $ping, 127, 'a 125-byte ping');
eval { Tether::Frame->ping('x' x 126)->to_bytes('server') };
isa_ok($@, 'Tether::X::Protocol', 'a 126-byte ping');
eval { Tether::Frame->new(type => 'nonsense') };
isa_ok($@, 'Tether::X::Usage', 'unknown frame type');
eval { Tether::Frame->new(type => 'binary', payload => "\x{263a}") };
isa_ok($@, 'Tether::X::Usage', 'characters in a binary payload');
# Protocol::WebSocket's names; and wrong arguments die instead of giving an
# empty frame (they gave 81 00 before)
my $pws = Tether::Frame->new(buffer => 'hi', type => 'text', masked => 1)->to_bytes;
is(length $pws, 8, "buffer => 'hi', masked => 1: a masked text frame of 2 bytes");
is(ord(substr $pws, 0, 1), 0x81, '... FIN and TEXT');
is(ord(substr $pws, 1, 1), 0x82, '... MASK bit and length 2');
is(Tether::Frame::mask(substr($pws, 6), substr($pws, 2, 4)), 'hi', '... payload under its mask');
is(Tether::Frame->new(buffer => 'hi', type => 'text')->to_bytes, "\x81\x02hi", 'unmasked without masked');
eval { Tether::Frame->new(data => 'hi', type => 'text') };
isa_ok($@, 'Tether::X::Usage', 'an unknown argument');
like($@ && $@->message, qr/unknown argument 'data'/, '... named');
eval { Tether::Frame->new('hi') };
isa_ok($@, 'Tether::X::Usage', 'an odd argument list');
eval { Tether::Frame->new(type => 'text', payload => 'a', buffer => 'b') };
isa_ok($@, 'Tether::X::Usage', 'payload and buffer both');
is(Tether::Frame::header_size(126, 0), 4, '16-bit length');
is(Tether::Frame::header_size(70000, 1), 14, '64-bit length, masked');
is(Tether::Frame::mask(Tether::Frame::mask('abc', 'KEYS'), 'KEYS'), 'abc', 'mask twice is identity');
ok(Tether::Frame::utf8_valid("caf\xc3\xa9"), 'valid UTF-8');
ok(!Tether::Frame::utf8_valid("\xc0\xaf"), 'overlong refused');
my ($code, $reason) = Tether::Frame::parse_close_payload(Tether::Frame::build_close_payload(1000, "\x{263a}"));
is_deeply([ $code, $reason ], [ 1000, "\x{263a}" ], 'close payload round trip, characters');
eval { Tether::Frame::build_close_payload(1005, '') };
isa_ok($@, 'Tether::X::Protocol', '1005 cannot be sent');
eval { Tether::Frame::parse_close_payload("\x03") };
is($@->close_code, 1002, 'a 1-byte close payload: 1002');

# ---- Parser ----------------------------------------------------------------
{
    my $p = Tether::Parser->new(role => 'server');
    my $wire = Tether::Frame->new(type => 'text', payload => "caf\xc3", fin => 0)->to_bytes('client')
      . Tether::Frame->ping('p')->to_bytes('client')
      . Tether::Frame->new(type => 'continuation', payload => "\xa9!")->to_bytes('client')
      . Tether::Frame->close(1001, 'away')->to_bytes('client');
    $p->feed($_) for split //, $wire;    # one byte at a time
    my @got;
    while (my $f = $p->next_frame) { push @got, $f }
    is_deeply([ map { $_->type } @got ], [qw(text ping continuation close)], 'frames in order');
    ok(!$got[0]->fin && $got[2]->fin, 'fin on the last fragment only');
    is($got[0]->payload . $got[2]->payload, "caf\xc3\xa9!", 'the split character spans fragments');
    is($got[3]->close_code, 1001, 'close code');
    is($got[3]->close_reason, 'away', 'close reason');
    is($p->buffered, 0, 'all consumed');

    # Whole messages are the engine's (Tether::Connection), not the parser's.
    my $ws = Tether::Connection->new(role => 'server', now => 0);
    $ws->receive_data($_, 1) for split //, $wire;
    my @ev = $ws->events;
    is_deeply([ map { $_->{type} } @ev ], [qw(ping message closed)], 'the engine: ping, message, close')
      or diag(explain(\@ev));
    is($ev[1]{data}, "caf\x{e9}!", 'joined across a split character');
}
{
    my $p = Tether::Parser->new(role => 'server');
    $p->feed(Tether::Frame->text('x')->to_bytes('server'));
    eval { $p->next_frame };
    isa_ok($@, 'Tether::X::Protocol', 'unmasked frame to a server');
    is($@->close_code, 1002, '... 1002');
    like($@->message, qr/mask/i, '... says why');
}
{
    my $p = Tether::Parser->new(role => 'client');
    $p->feed(Tether::Frame->new(type => 'text', payload => "\xff")->to_bytes('server'));
    eval { $p->next_frame };
    is($@->close_code, 1007, 'invalid UTF-8: 1007');
}
{
    my $p = Tether::Parser->new(role => 'client', max_frame => 10);
    $p->feed(Tether::Frame->binary('x' x 11)->to_bytes('server'));
    eval { $p->next_frame };
    is($@->close_code, 1009, 'frame over the limit: 1009');
}
{
    my $p = Tether::Parser->new(role => 'client');
    $p->feed("\x83\x00");    # reserved opcode 3
    eval { $p->next_frame };
    is($@->close_code, 1002, 'reserved opcode: 1002');
    $p->reset;
    $p->feed(Tether::Frame->binary('ok')->to_bytes('server'));
    is($p->next_frame->payload, 'ok', 'reset parser works again');
}
{
    my $p = Tether::Parser->new(role => 'client');
    $p->feed("\x81\x7e\x00\x05hello");    # non-minimal length
    eval { $p->next_frame };
    is($@->close_code, 1002, 'non-minimal length: 1002');
}

# ---- Handshakes --------------------------------------------------------------
{
    my $c = Tether::Handshake::Client->new(
        url          => 'ws://example.com:8080/chat?x=1',
        subprotocols => [ 'v2', 'v1' ],
        headers      => [ 'X-Token' => 'abc' ],
        origin       => 'https://example.com',
    );
    my $req = $c->request;
    like($req, qr{^GET /chat\?x=1 HTTP/1\.1\r\n}, 'request line');
    like($req, qr{\r\nHost: example\.com:8080\r\n}, 'Host with port');
    my $s = Tether::Handshake::Server->new;
    is($s->parse(substr $req, 0, 10), 0, 'server: incomplete');
    is($s->parse(substr($req, 10) . "\x81"), 1, 'server: complete');
    is($s->leftover, "\x81", 'bytes after the head kept');
    is($s->path, '/chat', 'path');
    is($s->query, 'x=1', 'query');
    is($s->header('x-token'), 'abc', 'header lookup is case-insensitive');
    is($s->origin, 'https://example.com', 'origin');
    is_deeply([ $s->protocols ], [ 'v2', 'v1' ], 'offered protocols');
    my %h = $s->headers;
    is($h{Host}, 'example.com:8080', 'headers as pairs');
    $s->select_protocol('v1');
    $s->add_header('X-Server', 'tether');
    eval { $s->select_protocol('v9') };
    isa_ok($@, 'Tether::X::Usage', 'a protocol not offered');
    my $resp = $s->accept;
    like($resp, qr{^HTTP/1\.1 101 }, 'the answer is a 101');
    is($c->parse($resp . "tail"), 1, 'client accepts');
    is($c->leftover, 'tail', 'client leftover');
    is($c->status, 101, 'status');
    is($c->protocol, 'v1', 'chosen protocol');
    is($c->header('X-Server'), 'tether', 'response header');
}
{
    my $c = Tether::Handshake::Client->new(host => 'h', path => '/');
    $c->request;
    eval { $c->parse("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n") };
    isa_ok($@, 'Tether::X::Handshake', 'refused upgrade');
    is($@->status, 403, '... with its status');
}
{
    my $s = Tether::Handshake::Server->new;
    eval { $s->parse("POST / HTTP/1.1\r\nHost: h\r\n\r\n") };
    isa_ok($@, 'Tether::X::Handshake', 'POST');
    is($@->status, 405, '... 405');
    like($s->reject($@->status), qr{^HTTP/1\.1 405 }, 'reject response');
    my $s2 = Tether::Handshake::Server->new;
    eval { $s2->parse("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n") };
    is($@->status, 426, 'wrong version: 426');
    my $s3 = Tether::Handshake::Server->new(max_header_bytes => 64);
    eval { $s3->parse("GET / HTTP/1.1\r\nHost: h\r\nX-Long: " . ('a' x 100) . "\r\n\r\n") };
    is($@->status, 431, 'head too big: 431');
}

# ---- permessage-deflate -------------------------------------------------------
{
    my $cd = Tether::Deflate->new(role => 'client', client_max_window_bits => 12, level => 9);
    my $sd = Tether::Deflate->new(role => 'server', max_decompressed => 1000);
    my $c = Tether::Handshake::Client->new(url => 'ws://h/', deflate => $cd);
    my $s = Tether::Handshake::Server->new(deflate => $sd);
    $s->parse($c->request);
    like($s->extensions, qr/permessage-deflate/, 'offer sent');
    $c->parse($s->accept);
    ok($cd->enabled && $sd->enabled, 'negotiated on both sides');
    is($cd->parameters->{client_max_window_bits}, 12, 'client window in force');

    my $text = "d\x{e9}j\x{e0} vu " x 40;
    my $bytes = $text;
    utf8::encode($bytes);
    my $z = $cd->compress($bytes);
    ok(length $z < length $bytes, 'smaller');
    my $p = Tether::Parser->new(role => 'server', deflate => $sd);
    $p->feed(Tether::Frame->new(type => 'text', rsv => 4, payload => $z)->to_bytes('client'));
    my $f = $p->next_frame;
    is($f->rsv, 4, 'RSV1 allowed once deflate is negotiated');
    my $inflated = $sd->decompress($f->payload);
    utf8::decode($inflated);
    is($inflated, $text, 'compressed text message, inflated');

    my $bomb = $cd->compress("\0" x 100_000);
    eval { $sd->decompress($bomb) };
    my $err = $@;
    is(ref $err && $err->close_code, 1009, 'a deflate bomb over the cap: 1009');

    eval { $sd->decompress("\xff\xff\xff\xff") };
    $err = $@;
    is(ref $err && $err->close_code, 1007, 'corrupt deflate data: 1007');
    is($sd->decompress($cd->compress('after errors')), 'after errors', 'usable after an error');
    eval { Tether::Deflate->new(role => 'server')->decompress('x') };
    isa_ok($@, 'Tether::X::NotOpen', 'not negotiated');
    eval { Tether::Deflate->new(role => 'client', nonsense => 1) };
    isa_ok($@, 'Tether::X::Usage', 'unknown preference');
    my $decline = Tether::Deflate->new(role => 'client');
    is($decline->accept(undef), 0, 'a server that declines is fine');
    eval { Tether::Deflate->new(role => 'client')->accept('permessage-deflate; bogus=1') };
    isa_ok($@, 'Tether::X::Handshake', 'a bad answer');
}

done_testing;
