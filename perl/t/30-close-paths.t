# Every way a connection ends, seen from a client and from a server.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use AnyEvent;
use IO::Socket::INET;
use POSIX qw(EADDRINUSE ECONNREFUSED);
use Time::HiRes ();
use Tether::Blocking::Client;
use Tether::Frame;
use Tether::Handshake::Client;
use Tether::Parser;
use Tether::Server;
use LoopTests qw(settle);
use TetherTest qw(fake_server start_tether_serve with_timeout);

# Reads client frames on the fake server's side until a close frame comes;
# returns it (or undef).
sub read_close {
    my ($sock, $leftover, $seconds) = @_;
    my $p = Tether::Parser->new(role => 'server');
    $p->feed($leftover) if length $leftover;
    my $deadline = Time::HiRes::time() + ($seconds // 5);
    while (Time::HiRes::time() < $deadline) {
        while (my $f = eval { $p->next_frame }) { return $f if $f->type eq 'close' }
        my $rin = '';
        vec($rin, fileno $sock, 1) = 1;
        select(my $r = $rin, undef, undef, 0.1) or next;
        sysread($sock, my $buf, 65536) or return undef;
        $p->feed($buf);
    }
    return undef;
}

sub wait_child {
    my ($pid) = @_;
    my $deadline = Time::HiRes::time() + 10;
    while (Time::HiRes::time() < $deadline) {
        return $? >> 8 if waitpid($pid, POSIX::WNOHANG()) == $pid;
        Time::HiRes::sleep(0.02);
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return -1;
}

# Runs a client against a fake server; returns (connection, error of the
# first recv, fake server's exit code).
sub client_case {
    my ($script, %client) = @_;
    my ($url, $pid) = fake_server($script);
    my ($ws, $err);
    with_timeout(15, sub {
        $ws = Tether::Blocking::Client->connect(url => $url, timeout => 5, %client);
        eval { 1 while defined $ws->recv; };
        $err = $@;
    });
    return ($ws, $err, wait_child($pid));
}

subtest 'client side' => sub {
    my ($ws, $err, $exit) = client_case(sub {
        my ($s, $left) = @_;
        syswrite $s, Tether::Frame->close(1000, 'server done')->to_bytes('server');
        my $f = read_close($s, $left);
        POSIX::_exit($f && $f->close_code == 1000 ? 0 : 3);
    });
    is($err, '', 'peer closes with 1000: recv ends without error');
    is_deeply($ws->status, [ 1000, 'server done' ], 'status: the peer code and reason');
    is($exit, 0, 'the client answered the close with 1000');

    ($ws, $err) = client_case(sub {
        my ($s, $left) = @_;
        syswrite $s, Tether::Frame->close(1001, 'going')->to_bytes('server');
        read_close($s, $left);
    });
    isa_ok($err, 'Tether::X::WebSocketClose', 'peer closes with 1001');
    is($err->close_code, 1001, '... code');
    is($err->reason, 'going', '... reason');

    ($ws, $err) = client_case(sub {
        my ($s, $left) = @_;
        syswrite $s, Tether::Frame->new(type => 'close')->to_bytes('server');
        read_close($s, $left);
    });
    is($err, '', 'empty close frame: a normal end');
    is($ws->status->[0], 1005, '... reported as 1005');

    ($ws, $err) = client_case(sub { close $_[0] });
    isa_ok($err, 'Tether::X::ConnectionLost', 'TCP dropped after the handshake');
    is($err->close_code, 1006, '... 1006');

    ($ws, $err, $exit) = client_case(sub {
        my ($s, $left) = @_;
        syswrite $s, Tether::Frame->text('masked!')->to_bytes('client');    # masked: not allowed
        my $f = read_close($s, $left);
        POSIX::_exit($f && $f->close_code == 1002 ? 0 : 3);
    });
    isa_ok($err, 'Tether::X::Protocol', 'masked frame from a server');
    is($err->close_code, 1002, '... 1002');
    is($exit, 0, '... and the server received a close with 1002');

    ($ws, $err, $exit) = client_case(sub {
        my ($s, $left) = @_;
        syswrite $s, Tether::Frame->new(type => 'text', payload => "ok \xc3\x28")->to_bytes('server');
        my $f = read_close($s, $left);
        POSIX::_exit($f && $f->close_code == 1007 ? 0 : 3);
    });
    isa_ok($err, 'Tether::X::Protocol', 'invalid UTF-8');
    is($err->close_code, 1007, '... 1007');
    is($exit, 0, '... sent to the server');

    ($ws, $err, $exit) = client_case(sub {
        my ($s, $left) = @_;
        syswrite $s, Tether::Frame->binary('x' x 2000)->to_bytes('server');
        my $f = read_close($s, $left);
        POSIX::_exit($f && $f->close_code == 1009 ? 0 : 3);
    }, max_message => 1000);
    is(eval { $err->close_code }, 1009, 'message over max_message: 1009');
    is($exit, 0, '... sent to the server');

    ($ws, $err) = client_case(sub {
        my ($s, $left) = @_;
        syswrite $s, "\xc1\x01x";    # RSV1 without an extension
        read_close($s, $left);
    });
    is(eval { $err->close_code }, 1002, 'RSV1 with no extension: 1002');

    ($ws, $err) = client_case(sub {
        my ($s, $left) = @_;
        syswrite $s, "\x88\x02\x03\xe7";    # close code 999
        read_close($s, $left);
    });
    is(eval { $err->close_code }, 1002, 'close code 999 from the peer: 1002');

    my $until_eof = sub { TetherTest::read_until($_[0], sub { 0 }, 5) };
    ($ws, $err) = client_case($until_eof, idle_timeout => 0.3);
    isa_ok($err, 'Tether::X::Timeout', 'idle timeout');

    ($ws, $err) = client_case($until_eof, ping_interval => 0.2, ping_timeout => 0.3);
    is(eval { $err->close_code }, 1011, 'keepalive: a peer that never pongs, 1011');
    like(eval { $err->reason } // '', qr/keepalive/, '... "keepalive timeout"');

    # Our close, never answered.
    my ($url, $pid) = fake_server($until_eof);
    my $c = Tether::Blocking::Client->connect(url => $url, close_timeout => 0.3, timeout => 5);
    my $t0 = Time::HiRes::time();
    eval { $c->close(1000, 'hello?') };
    isa_ok($@, 'Tether::X::Base', 'close never answered: an error');
    ok(Time::HiRes::time() - $t0 < 2, '... after the close timeout');
    is($c->state, 'closed', '... and the connection is closed');
    wait_child($pid);

    my $serve = start_tether_serve('--path', '/only');
    eval { Tether::Blocking::Client->connect(url => $serve->url . 'other', timeout => 5) };
    my $e = $@;
    isa_ok($e, 'Tether::X::Handshake', 'wrong path');
    is(ref $e && $e->status, 404, '... 404');
    $serve->stop;
};

# ---- Server side: raw clients in a child process -------------------------------

# The child's result comes back through a pipe: the event loop (EV) reaps
# children itself, so exit codes cannot be relied on here.
sub raw_client {
    my ($port, $script) = @_;
    pipe(my $r, my $w) or die;
    my $pid = fork // die;
    if ($pid) { close $w; return ($pid, $r) }
    close $r;
    alarm 15;
    my $ok = eval {
        my $s = IO::Socket::INET->new("127.0.0.1:$port") or die "connect: $!";
        my $hs = Tether::Handshake::Client->new(url => "ws://127.0.0.1:$port/");
        syswrite $s, $hs->request;
        until ($hs->parse(TetherTest::read_until($s, sub { length $_[0] }, 5))) { }
        $script->($s, $hs->leftover);
    };
    syswrite $w, ($ok // 0) . "\n";
    POSIX::_exit(0);
}

sub child_result {
    my ($pid, $r) = @_;
    my $line = TetherTest::read_until($r, sub { $_[0] =~ /\n/ }, 10);
    # Wait until it is gone: it holds a copy of the server's listening
    # socket, which must not outlive it.
    kill 'KILL', $pid;
    waitpid($pid, 0);
    chomp $line;
    return $line;
}

# A client script's result: the close code the server sent us.
sub server_close_code {
    my ($s, $left) = @_;
    my $p = Tether::Parser->new(role => 'client');
    $p->feed($left);
    my $buf = TetherTest::read_until($s, sub { $p->feed($_[0]); $_[0] = ''; 0 }, 2);
    while (my $f = eval { $p->next_frame }) { return $f->close_code if $f->type eq 'close' }
    return 0;
}

subtest 'server side' => sub {
    my @done;
    my $server = Tether::Server->new(
        event         => 'AnyEvent',
        max_message   => 100,
        on_connection => sub {
            my ($c) = @_;
            push @done, $c->done;
            $c->on_text(sub { $c->close(1000, 'server says bye') if $_[0] eq 'close me' });
            $c->on_binary(sub { });
        },
    );
    my $port = $server->port;
    my $case = sub {
        my ($name, $script) = @_;
        @done = ();
        my ($pid, $r) = raw_client($port, $script);
        my $w;
        my $cv = AE::cv();
        $w = AE::timer(0, 0.01, sub { $cv->send if @done });
        my $t = AE::timer(10, 0, sub { $cv->send });
        $cv->recv;
        undef $w;
        my @r = @done ? settle('AnyEvent', $done[0]) : (0, 'no connection');
        return (@r, child_result($pid, $r));
    };

    my ($ok, $v, $exit) = $case->('normal', sub {
        my ($s, $left) = @_;
        syswrite $s, Tether::Frame->close(1000, 'client bye')->to_bytes('client');
        server_close_code($s, $left) == 1000 ? 1 : 0;
    });
    ok($ok, 'the client closes with 1000');
    is_deeply($v, [ 1000, 'client bye' ], '... [code, reason]');
    is($exit, 1, '... and gets 1000 back');

    ($ok, $v, $exit) = $case->('server closes', sub {
        my ($s, $left) = @_;
        syswrite $s, Tether::Frame->text('close me')->to_bytes('client');
        my $code = server_close_code($s, $left);
        syswrite $s, Tether::Frame->close(1000)->to_bytes('client');
        Time::HiRes::sleep(0.2);
        $code == 1000 ? 1 : 0;
    });
    ok($ok, 'the server closes, the client answers: resolved');
    is($exit, 1, '... the client got 1000');

    ($ok, $v) = $case->('drop', sub { close $_[0]; 1 });
    isa_ok($v, 'Tether::X::ConnectionLost', 'the client vanishes');

    ($ok, $v, $exit) = $case->('unmasked', sub {
        my ($s, $left) = @_;
        syswrite $s, Tether::Frame->text('unmasked')->to_bytes('server');
        server_close_code($s, $left) == 1002 ? 1 : 0;
    });
    isa_ok($v, 'Tether::X::Protocol', 'unmasked frame from a client');
    is(eval { $v->close_code }, 1002, '... 1002');
    is($exit, 1, '... sent to the client');

    ($ok, $v, $exit) = $case->('utf8', sub {
        my ($s, $left) = @_;
        syswrite $s, Tether::Frame->new(type => 'text', payload => "\xed\xa0\x80")->to_bytes('client');
        server_close_code($s, $left) == 1007 ? 1 : 0;
    });
    is(eval { $v->close_code }, 1007, 'a surrogate in text: 1007');
    is($exit, 1, '... sent to the client');

    ($ok, $v, $exit) = $case->('too big', sub {
        my ($s, $left) = @_;
        syswrite $s, Tether::Frame->binary('y' x 101)->to_bytes('client');
        server_close_code($s, $left) == 1009 ? 1 : 0;
    });
    is(eval { $v->close_code }, 1009, 'over the server max_message: 1009');
    is($exit, 1, '... sent to the client');

    ($ok, $v) = $case->('fragmented ping', sub {
        my ($s, $left) = @_;
        syswrite $s, Tether::Frame->new(type => 'text', payload => 'a', fin => 0)->to_bytes('client');
        syswrite $s, Tether::Frame->new(type => 'text', payload => 'b')->to_bytes('client');
        server_close_code($s, $left);
    });
    is(eval { $v->close_code }, 1002, 'a new message inside a fragmented one: 1002');

    # Shutdown closes everyone with 1001.
    my @clients;
    my $n = 0;
    my $cv = AE::cv();
    for (1 .. 3) {
        $cv->begin;
        push @clients, Tether::Client::connect(
            url      => $server->url,
            event    => 'AnyEvent',
            on_ready => sub { $n++; $server->shutdown if $n == 3 },
        );
        $clients[-1]->cb(sub { $cv->end });
    }
    my $t = AE::timer(10, 0, sub { $cv->send });
    $cv->recv;
    my @codes = map { my $e = (settle('AnyEvent', $_))[1]; ref $e ? $e->close_code : 0 } @clients;
    is_deeply(\@codes, [ 1001, 1001, 1001 ], 'shutdown: every client gets 1001');
    my $first = Tether::Server->new(event => 'AnyEvent', on_connection => sub { });
    eval { Tether::Server->new(event => 'AnyEvent', port => $first->port, on_connection => sub { }) };
    my $taken = $@;
    isa_ok($taken, 'Tether::X::System', 'a second server on a port taken');
    cmp_ok(eval { $taken->errno }, '==', EADDRINUSE, '... errno EADDRINUSE (event loop)');
    is(eval { $taken->message }, 'address already in use (127.0.0.1:' . $first->port . ')',
        '... address already in use (HOST:PORT)');
    $first->close;
    my $late = Tether::Client::connect(url => $server->url, event => 'AnyEvent');
    my $err = (settle('AnyEvent', $late))[1];
    isa_ok($err, 'Tether::X::Connect', 'and no new connection');
    cmp_ok(eval { $err->errno }, '==', ECONNREFUSED, '... refused: errno ECONNREFUSED (event loop)');
    is(eval { $err->message }, 'connection refused (127.0.0.1:' . $server->port . ')',
        '... with the address');
};

done_testing;
