# The blocking client and server, against the tether tool and each other.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use IPC::Open3;
use POSIX qw(EADDRINUSE ECONNREFUSED);
use Symbol 'gensym';
use Time::HiRes ();
use Tether::Blocking::Client;
use Tether::Blocking::Server;
use TetherTest qw(start_tether_serve tether_tool with_timeout fake_server);

my $serve = start_tether_serve();

subtest 'client against tether serve' => sub {
    with_timeout(30, sub {
        my $ws = Tether::Blocking::Client->connect(url => $serve->url, timeout => 5);
        is($ws->state, 'open', 'open');
        is($ws->http_status, 101, 'HTTP 101');
        $ws->send_text("\x{263a} blocking");
        $ws->send_binary("\x00\x01\x02");
        my ($data, $type) = $ws->recv;
        is($data, "\x{263a} blocking", 'text echoed');
        is($type, 'text', 'type text');
        ($data, $type) = $ws->recv;
        is($data, "\x00\x01\x02", 'binary echoed');
        is($type, 'binary', 'type binary');
        is($ws->ping('abc'), 'abc', 'ping returns the pong payload');
        my $t0 = Time::HiRes::time();
        eval { $ws->recv(0.2) };
        isa_ok($@, 'Tether::X::Timeout', 'recv with nothing to receive');
        ok(Time::HiRes::time() - $t0 < 2, '... after about the timeout');
        $ws->send_text('still usable');
        is(scalar $ws->recv, 'still usable', 'usable after a timeout');
        my $big = 'z' x (4 << 20);
        $ws->send_binary($big);
        ok($ws->recv eq $big, '4 MiB message');
        is_deeply($ws->close(1000, 'bye'), [ 1000, '' ], 'close returns the answer');
        is($ws->state, 'closed', 'closed');
        is(scalar $ws->recv, undef, 'recv after a normal close: nothing');
        eval { $ws->send_text('x') };
        isa_ok($@, 'Tether::X::NotOpen', 'send after close');
    });
};

subtest 'server against the tether tool as client' => sub {
    my $tool = tether_tool() or plan skip_all => 'no tether tool';
    with_timeout(30, sub {
        my $server = Tether::Blocking::Server->new(timeout => 10);
        my $pid = open3(my $in, my $out, my $err = gensym, $tool, 'connect', $server->url . 'tool');
        print {$in} "hello\nw\x{c3}\x{b6}rld\n";
        close $in;
        my $ws = $server->accept(10);
        isa_ok($ws, 'Tether::Blocking::Connection');
        is($ws->path, '/tool', 'path');
        like($ws->peer, qr/^127\.0\.0\.1:/, 'peer');
        my @got;
        while (my ($m, $type) = $ws->recv) {
            push @got, $m;
            $ws->send_text(uc $m);
        }
        is_deeply(\@got, [ 'hello', "w\x{f6}rld" ], 'lines from the tool, decoded');
        is_deeply($ws->status, [ 1000, '' ], 'the tool closed with 1000');
        my $printed = do { local $/; <$out> };
        waitpid($pid, 0);
        is($? >> 8, 0, 'the tool exited 0');
        like($printed, qr/^HELLO\n/, 'the tool printed our answer');
        is($server->accept(0.1), undef, 'accept times out with undef');
        $server->close;
    });
};

subtest 'server and client in two processes' => sub {
    my $seen_headers;
    with_timeout(30, sub {
        my $server = Tether::Blocking::Server->new(
            subprotocols => ['echo'],
            on_request   => sub {
                my ($req) = @_;
                $req->reject(404, 'no such room') if $req->path ne '/room';
                $seen_headers = [ $req->headers ];
            },
        );
        my $url = $server->url;
        my $pid = fork // die;
        if (!$pid) {
            my $code = 0;
            eval {
                eval { Tether::Blocking::Client->connect(url => $url . 'other', timeout => 5) };
                $code |= 1 unless ref $@ && $@->isa('Tether::X::Handshake') && $@->status == 404;
                my $ws = Tether::Blocking::Client->connect(url => $url . 'room', subprotocols => ['echo'],
                    timeout => 5);
                $code |= 2 unless $ws->protocol eq 'echo';
                $ws->send_text("n$_") for 1 .. 100;
                my $n = 0;
                while (defined(my $m = $ws->recv)) { $n++ }
                $code |= 4 unless $n == 100;
                1;
            } or $code |= 8;
            POSIX::_exit($code);
        }
        my $ws = $server->accept(10);
        ok($ws, 'accepted (the 404 request was not handed out)');
        my @names = map { lc $_->[0] } @$seen_headers;
        ok((grep { $_ eq 'sec-websocket-key' } @names) && $names[0] eq 'host',
            'headers lists the request in order: ' . join(',', @names));
        is(scalar(grep { lc $_->[0] eq 'sec-websocket-protocol' && $_->[1] eq 'echo' } @$seen_headers),
            1, 'each pair is [name, value]');
        is($ws->protocol, 'echo', 'sub-protocol');
        for (1 .. 100) { $ws->send_text(scalar $ws->recv) }
        is_deeply($ws->close(1000, 'all done'), [ 1000, '' ], 'server closes: the client answers 1000');
        waitpid($pid, 0);
        is($? >> 8, 0, 'the client process saw everything it expected');
        $server->close;
    });
};

subtest 'serve()' => sub {
    with_timeout(30, sub {
        my $server = Tether::Blocking::Server->new;
        my $url = $server->url;
        my $pid = fork // die;
        if (!$pid) {
            my $ok = 1;
            for my $i (1 .. 3) {
                my $ws = eval { Tether::Blocking::Client->connect(url => $url, timeout => 5) } or do { $ok = 0; next };
                $ws->send_text("c$i");
                $ok = 0 unless ($ws->recv // '') eq "c$i";
                eval { $ws->close };
            }
            POSIX::_exit($ok ? 0 : 1);
        }
        my $served = 0;
        $server->serve(sub {
            my ($ws) = @_;
            $served++;
            while (defined(my $m = $ws->recv(5))) { $ws->send_text($m) }
        }, 3);
        is($served, 3, 'three connections served one after the other');
        waitpid($pid, 0);
        is($? >> 8, 0, 'the clients got their echoes');
    });
};

subtest 'failures' => sub {
    with_timeout(30, sub {
        my $port = do {
            require IO::Socket::INET;
            my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1);
            my $p = $s->sockport;
            close $s;
            $p;
        };
        eval { Tether::Blocking::Client->connect(url => "ws://127.0.0.1:$port/", timeout => 5) };
        my $err = $@;
        isa_ok($err, 'Tether::X::Connect', 'connection refused');
        cmp_ok(eval { $err->errno }, '==', ECONNREFUSED, '... errno ECONNREFUSED');
        is(eval { $err->message }, "connection refused (127.0.0.1:$port)",
            '... the message names the address');
        is(eval { $err->errno . '' }, do { local $! = ECONNREFUSED; "$!" },
            '... errno reads as the OS text, like $!');
        is(eval { $err->get('errno') }, ECONNREFUSED, '... and is the errno field');
        eval { Tether::Blocking::Client->connect(url => 'ws://127.0.0.1:1/', timeout => 5) };
        $err = $@;
        cmp_ok(eval { $err->errno }, '==', ECONNREFUSED, 'port 1: ECONNREFUSED');
        is(eval { $err->message }, 'connection refused (127.0.0.1:1)',
            '... connection refused (127.0.0.1:1)');

        my ($url, $pid) = fake_server(sub { sleep 5 }, raw => 1);    # never answers
        my $t0 = Time::HiRes::time();
        eval { Tether::Blocking::Client->connect(url => $url, handshake_timeout => 0.3) };
        $err = $@;
        isa_ok($err, 'Tether::X::Timeout', 'no answer to the upgrade');
        ok(Time::HiRes::time() - $t0 < 3, '... within the handshake timeout');
        is(eval { $err->errno }, 0, '... no OS reason: errno 0');
        kill 'KILL', $pid;
        waitpid($pid, 0);

        eval { Tether::Blocking::Client->connect(url => 'ws://127.0.0.1:1/', bogus => 1) };
        isa_ok($@, 'Tether::X::Usage', 'unknown option');
        eval { Tether::Blocking::Client->connect(url => 'nonsense') };
        isa_ok($@, 'Tether::X::Usage', 'bad URL');
        my $s = Tether::Blocking::Server->new;
        eval { Tether::Blocking::Server->new(port => $s->port) };
        $err = $@;
        isa_ok($err, 'Tether::X::System', 'port in use');
        cmp_ok(eval { $err->errno }, '==', EADDRINUSE, '... errno EADDRINUSE');
        is(eval { $err->message }, 'address already in use (127.0.0.1:' . $s->port . ')',
            '... address already in use (HOST:PORT)');
    });
};

$serve->stop;
done_testing;
