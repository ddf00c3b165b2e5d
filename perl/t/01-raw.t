# The SWIG layer: typemaps for buffers, out-parameters and out-pointers.
use strict;
use warnings;
use Test::More;
use POSIX qw(EADDRINUSE);
use Tether::Raw;

my $R = 'Tether::Raw';

# RFC 6455 section 1.3's worked example.
my ($rc, $accept) = Tether::Raw::tether_handshake_accept_key('dGhlIHNhbXBsZSBub25jZQ==');
is($rc, 0, 'accept key: rc');
is($accept, 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'accept key: RFC 6455 example');
($rc, my $key) = Tether::Raw::tether_handshake_key();
like($key, qr{^[A-Za-z0-9+/]{22}==$}, 'a fresh key is base64 of 16 bytes');

# Frames: RFC 6455 section 5.7 "Hello" unmasked text frame.
($rc, my $frame) = Tether::Raw::tether_frame_write($Tether::Raw::TETHER_ROLE_SERVER,
    $Tether::Raw::TETHER_OP_TEXT, 1, 0, 'Hello', 64);
is($rc, 0, 'frame_write rc');
is(unpack('H*', $frame), '810548656c6c6f', 'unmasked Hello frame (RFC 6455 5.7)');
($rc, my $short) = Tether::Raw::tether_frame_write($Tether::Raw::TETHER_ROLE_SERVER,
    $Tether::Raw::TETHER_OP_TEXT, 1, 0, 'Hello', 3);
is($rc, $Tether::Raw::TETHER_E_NOSPC, 'frame_write with too small a capacity: NOSPC');
ok(!defined $short, '... and no bytes');

# The masked example: key 37 fa 21 3d.
my ($n, $hdr) = Tether::Raw::tether_frame_write_header($Tether::Raw::TETHER_OP_TEXT, 1, 0, 5, "\x37\xfa\x21\x3d");
is($n, 6, 'masked header is 6 bytes');
is(unpack('H*', $hdr), '818537fa213d', 'masked header bytes');
($rc, my $masked) = Tether::Raw::tether_mask('Hello', "\x37\xfa\x21\x3d", 0);
is(unpack('H*', $masked), '7f9f4d5158', 'masked Hello (RFC 6455 5.7)');
eval { Tether::Raw::tether_mask('x', 'abc', 0) };
like($@, qr/4 bytes/, 'a 3-byte key is refused');

# Parser: in place, with out-parameters.
my $p = Tether::Raw::tether_parser_new($Tether::Raw::TETHER_ROLE_SERVER);
my $buf = $hdr . $masked;
my ($ev, $used, $data) = Tether::Raw::tether_parser_next($p, $buf);
is($ev, $Tether::Raw::TETHER_PARSE_FRAME_START, 'FRAME_START');
is(Tether::Raw::tether_parser_opcode($p), 1, 'opcode text');
substr($buf, 0, $used, '');
($ev, $used, $data) = Tether::Raw::tether_parser_next($p, $buf);
is($ev, $Tether::Raw::TETHER_PARSE_PAYLOAD, 'PAYLOAD');
is($data, 'Hello', 'unmasked payload');
is($buf, 'Hello', 'the buffer was unmasked in place');
eval { Tether::Raw::tether_parser_next($p, 'constant') };
like($@, qr/writable/, 'a read-only buffer is refused');
Tether::Raw::tether_parser_free($p);

# Close payloads.
($rc, my $close) = Tether::Raw::tether_close_build(1001, "bye \xe2\x98\xba", 125);
is(unpack('H*', $close), '03e9627965' . '20e298ba', 'close payload');
my ($prc, $code, $reason) = Tether::Raw::tether_close_parse($close);
is_deeply([ $prc, $code, $reason ], [ 0, 1001, "bye \xe2\x98\xba" ], 'close payload parsed');
($prc, $code) = Tether::Raw::tether_close_parse('');
is($code, 1005, 'empty close payload: 1005');
($rc) = Tether::Raw::tether_close_build(1006, '', 125);
is($rc, $Tether::Raw::TETHER_E_CLOSE_CODE, '1006 is not sendable');

# UTF-8: incremental state in and out.
my ($urc, $state) = Tether::Raw::tether_utf8_feed($Tether::Raw::TETHER_UTF8_INIT, "\xe2\x98");
is($urc, 0, 'a cut sequence is fine so far');
is(Tether::Raw::tether_utf8_finish($state), $Tether::Raw::TETHER_E_UTF8, '... but not at the end');
($urc, $state) = Tether::Raw::tether_utf8_feed($state, "\xba");
is(Tether::Raw::tether_utf8_finish($state), 0, 'completed across feeds');
is(Tether::Raw::tether_utf8_validate("\xed\xa0\x80"), $Tether::Raw::TETHER_E_UTF8, 'surrogate refused');

# Randomness.
($rc, my $rand) = Tether::Raw::tether_random_bytes(32);
is(length $rand, 32, 'random bytes');

# Handshake out-buffers and header_at's two outputs.
my $h = Tether::Raw::tether_client_hs_new('example.com', '/chat');
Tether::Raw::tether_client_hs_add_protocol($h, 'chat');
($rc, my $req) = Tether::Raw::tether_client_hs_request($h);
like($req, qr{^GET /chat HTTP/1.1\r\n}, 'request line');
like($req, qr{\r\nSec-WebSocket-Protocol: chat\r\n}, 'sub-protocol header');
like($req, qr{\r\n\r\n\z}, 'request head ends the bytes');
my $s = Tether::Raw::tether_server_hs_new();
my ($src, $consumed) = Tether::Raw::tether_server_hs_parse($s, $req . 'extra');
is($src, 0, 'server parses the request');
is($consumed, length $req, '... consuming the head only');
my ($hrc, $name, $value) = Tether::Raw::tether_server_hs_header_at($s, 0);
is($name, 'Host', 'header_at name');
is($value, 'example.com', 'header_at value');
Tether::Raw::tether_server_hs_select_protocol($s, 'chat');
($rc, my $resp) = Tether::Raw::tether_server_hs_accept($s);
($rc, $consumed) = Tether::Raw::tether_client_hs_parse($h, $resp);
is($rc, 0, 'client accepts the response');
is(Tether::Raw::tether_client_hs_protocol($h), 'chat', 'sub-protocol');
my $s2 = Tether::Raw::tether_server_hs_new();
($rc, my $rej) = Tether::Raw::tether_server_hs_reject($s2, 404, 'nope');
like($rej, qr{^HTTP/1.1 404 .*\r\n\r\nnope\z}s, 'reject bytes');
Tether::Raw::tether_server_hs_free($s2);
Tether::Raw::tether_client_hs_free($h);
Tether::Raw::tether_server_hs_free($s);

# permessage-deflate: char *out buffers and pointer+length outputs.
my $cp = Tether::Raw::tether_pmd_new($Tether::Raw::TETHER_ROLE_CLIENT);
my $sp = Tether::Raw::tether_pmd_new($Tether::Raw::TETHER_ROLE_SERVER);
($rc, my $offer) = Tether::Raw::tether_pmd_offer($cp);
like($offer, qr/^permessage-deflate/, 'offer');
($rc, my $answer) = Tether::Raw::tether_pmd_negotiate($sp, $offer);
is($rc, 1, 'accepted');
is(Tether::Raw::tether_pmd_accept($cp, $answer), 0, 'client takes the answer');
my $text = 'compress me ' x 50;
($rc, my $z) = Tether::Raw::tether_pmd_compress($cp, $text, 1);
ok(length $z < length $text, 'compressed');
($rc, my $back) = Tether::Raw::tether_pmd_decompress($sp, $z, 1);
is($back, $text, 'round trip');
Tether::Raw::tether_pmd_free($_) for $cp, $sp;

# Out-pointers and the pointer + length return.
my $ctx = Tether::Raw::tether_ctx_new();
my ($lrc, $l, $lerrno) = Tether::Raw::tether_listen($ctx, '127.0.0.1', 0, undef);
is($lrc, 0, 'listen');
isa_ok($l, '_p_tether_listener');
is($lerrno, 0, 'listen: errno 0 after success');
my $port = Tether::Raw::tether_listener_port($l);
{
    my ($rc2, $l2, $why) = Tether::Raw::tether_listen($ctx, '127.0.0.1', $port, undef);
    is($rc2, $Tether::Raw::TETHER_E_IO, 'listen on a taken port: TETHER_E_IO');
    ok(!defined $l2, '... no listener');
    is($why, EADDRINUSE, '... and errno EADDRINUSE, third');
}
my ($crc, $conn) = Tether::Raw::tether_connect($ctx, "ws://127.0.0.1:$port/x", undef);
isa_ok($conn, '_p_tether_conn');
my ($got, $closed) = ('', 0);
for (1 .. 200) {
    my ($erc, $ev) = Tether::Raw::tether_next_event($ctx, 50);
    next if $erc < 0;
    isa_ok($ev, '_p_tether_event') if $_ == 1;
    my $type = Tether::Raw::tether_event_type_of($ev);
    my $c = Tether::Raw::tether_event_conn($ev);
    if ($type == $Tether::Raw::TETHER_EV_OPEN && $$c == $$conn) {
        Tether::Raw::tether_conn_send($c, $Tether::Raw::TETHER_OP_BINARY, "\0bin\xff");
    }
    elsif ($type == $Tether::Raw::TETHER_EV_MESSAGE) {
        $got = Tether::Raw::tether_event_data($ev);
        Tether::Raw::tether_conn_close($c, 4000, 'app');
    }
    elsif ($type == $Tether::Raw::TETHER_EV_CLOSED && $$c == $$conn) {
        is(Tether::Raw::tether_event_close_code($ev), 4000, 'close code');
        $closed = 1;
    }
    Tether::Raw::tether_event_release($ev);
    last if $closed;
}
is($got, "\0bin\xff", 'binary data through tether_event_data (NUL kept)');
ok($closed, 'client CLOSED');
Tether::Raw::tether_listener_close($l);
Tether::Raw::tether_ctx_free($ctx);

# The log callback trampoline.
my @lines;
Tether::Raw::tether_set_log_callback(sub { push @lines, [@_] });
Tether::Raw::tether_set_log_level($Tether::Raw::TETHER_LOG_DEBUG);
{
    my $ctx = Tether::Raw::tether_ctx_new();
    my ($lrc, $l) = Tether::Raw::tether_listen($ctx, '127.0.0.1', 0, undef);
    my $port = Tether::Raw::tether_listener_port($l);
    my (undef, $conn) = Tether::Raw::tether_connect($ctx, "ws://127.0.0.1:$port/", undef);
    for (1 .. 100) {
        my ($erc, $ev) = Tether::Raw::tether_next_event($ctx, 20);
        next if $erc < 0;
        my $type = Tether::Raw::tether_event_type_of($ev);
        Tether::Raw::tether_conn_close(Tether::Raw::tether_event_conn($ev), 1000, '')
          if $type == $Tether::Raw::TETHER_EV_OPEN;
        Tether::Raw::tether_event_release($ev);
        last if $type == $Tether::Raw::TETHER_EV_CLOSED;
    }
    Tether::Raw::tether_ctx_free($ctx);
}
Tether::Raw::tether_set_log_level($Tether::Raw::TETHER_LOG_NONE);
Tether::Raw::tether_set_log_callback(undef);
SKIP: {
    skip 'this build of the library logs nothing at DEBUG for a connection', 2 unless @lines;
    like($lines[0][0], qr/^[1-5]$/, 'log callback: level');
    ok(length $lines[0][1], 'log callback: line');
}
eval { Tether::Raw::tether_set_log_callback('nope') };
like($@, qr/code reference/, 'log callback must be code');

done_testing;
