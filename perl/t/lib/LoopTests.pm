package LoopTests;

# The same event-driven tests for each loop: t/10-anyevent.t,
# t/11-io-async.t and t/12-mojo.t call run_all($event).

use strict;
use warnings;
use feature 'signatures';
no warnings 'experimental::signatures';

use Exporter 'import';
use Test::More;
use Tether qw(:close HAS_PMD);
use Tether::Client;
use Tether::Server;
use TetherTest qw(start_tether_serve);

our @EXPORT_OK = qw(settle run_all loop_for later);

my %LOOP;

sub loop_for {
    my ($event) = @_;
    return $LOOP{$event} //= do {
        if ($event eq 'IO::Async') { require IO::Async::Loop; IO::Async::Loop->new }
        elsif ($event eq 'Mojolicious') { require Mojo::IOLoop; Mojo::IOLoop->singleton }
        else { undef }
    };
}

# Waits (at most $seconds) for a promise of the given loop; returns
# (1, value) or (0, error).
sub settle {
    my ($event, $p, $seconds) = @_;
    $seconds //= 10;
    if ($event eq 'AnyEvent') {
        my $t = AE::timer($seconds, 0, sub { $p->croak("test timeout after $seconds s") });
        my $v = eval { $p->recv };
        return $@ ? (0, $@) : (1, $v);
    }
    if ($event eq 'IO::Async') {
        my $loop = loop_for($event);
        my $f = Future->wait_any($p, $loop->delay_future(after => $seconds)
              ->then(sub { Future->fail("test timeout after $seconds s") }));
        my $v = eval { $loop->await($f); $f->get };
        return $@ ? (0, $@) : (1, $v);
    }
    my @r;
    Mojo::Promise->race($p, Mojo::Promise->timeout($seconds => "test timeout after $seconds s"))
      ->then(sub { @r = (1, $_[0]) }, sub { @r = (0, $_[0]) })->wait;
    return @r;
}

# A deferred of the loop, for tests that wait for something else.
sub deferred {
    my ($event) = @_;
    return Tether::Loop->adapter($event, loop_for($event))->deferred;
}

sub connect_args {
    my ($event, %a) = @_;
    return (event => $event, (loop_for($event) ? (loop => loop_for($event)) : ()), %a);
}

sub run_all {
    my ($event) = @_;
    my $serve = start_tether_serve();

    subtest "$event: echo against tether serve" => sub {
        my (@text, @binary, @pong);
        my $big = join '', map { chr($_ % 256) } 0 .. (1 << 20) - 1;
        my $done = Tether::Client::connect(
            connect_args($event,
                url      => $serve->url,
                on_ready => sub {
                    my ($c) = @_;
                    is($c->state, 'open', 'open in on_ready');
                    # a signature of one argument, as Net::Libwebsockets'
                    # synopsis has it (it died with two: "Too many arguments")
                    $c->on_text(sub ($characters) { push @text, $characters; });
                    $c->on_binary(sub {
                        push @binary, $_[0];
                        $c->close(CLOSE_STATUS_NORMAL, 'done') if @binary == 2;
                    });
                    $c->on_pong(sub { push @pong, $_[0] });
                    $c->ping('marco');
                    $c->send_text("caf\x{e9} \x{263a}");
                    $c->send_text('');
                    $c->send_binary(join '', map { chr } 0 .. 255);
                    $c->send_binary($big);
                })
        );
        my ($ok, $v) = settle($event, $done);
        ok($ok, 'promise resolved') or diag("$v");
        is_deeply($v, [ 1000, '' ], 'with [code, reason]') if $ok;
        is_deeply(\@text, [ "caf\x{e9} \x{263a}", '' ], 'text echoed, as characters');
        ok(utf8::is_utf8($text[0]), 'text is a character string');
        is(length $binary[0], 256, 'binary echoed');
        is($binary[0], join('', map { chr } 0 .. 255), 'all 256 byte values');
        ok($binary[1] eq $big, '1 MiB binary echoed');
        is_deeply(\@pong, ['marco'], 'pong payload');
    };

    subtest "$event: Tether::Server and Tether::Client" => sub {
        my (%seen, $server_courier);
        my $server = Tether::Server->new(
            connect_args($event,
                subprotocols => [ 'v2', 'v1' ],
                headers      => [ 'X-Served-By' => 'tether' ],
                on_request   => sub {
                    my ($req) = @_;
                    @seen{qw(path query token peer)} =
                      ($req->path, $req->query, $req->header('X-Token'), $req->peer);
                    $seen{protocols} = [ $req->protocols ];
                    $req->reject(403, 'no token') unless defined $seen{token};
                },
                on_connection => sub {
                    my ($c) = @_;
                    $server_courier = $c;
                    $seen{server_protocol} = $c->protocol;
                    $c->on_text(sub {
                        my ($t) = @_;
                        $c->send_text(uc $t);
                        $c->close(4001, "bye \x{e9}") if $t eq 'quit';
                    });
                })
        );
        like($server->url, qr{^ws://127\.0\.0\.1:\d+/$}, 'url');
        my (@got, $client_protocol, $resp_header);
        my $done = Tether::Client::connect(
            connect_args($event,
                url          => $server->url . 'room?id=7',
                subprotocols => [ 'v1', 'v3' ],
                headers      => [ 'X-Token' => 'sesame' ],
                on_ready     => sub {
                    my ($c) = @_;
                    $client_protocol = $c->protocol;
                    $resp_header     = $c->header('X-Served-By');
                    $c->on_text(sub { push @got, $_[0] });
                    $c->send_text('hello');
                    $c->send_text('quit');
                })
        );
        my ($ok, $err) = settle($event, $done);
        ok(!$ok, 'a close with 4001 rejects');
        isa_ok($err, 'Tether::X::WebSocketClose');
        is(eval { $err->close_code }, 4001, 'close code');
        is(eval { $err->reason }, "bye \x{e9}", 'reason, as characters');
        is_deeply(\@got, [ 'HELLO', 'QUIT' ], 'messages before the close');
        is($seen{path}, '/room', 'server saw the path');
        is($seen{query}, 'id=7', '... the query');
        is($seen{token}, 'sesame', '... the header');
        like($seen{peer}, qr/^127\.0\.0\.1:\d+$/, '... the peer');
        is_deeply($seen{protocols}, [ 'v1', 'v3' ], '... the offered protocols');
        is($seen{server_protocol}, 'v1', 'server chose v1');
        is($client_protocol, 'v1', 'client sees v1');
        is($resp_header, 'tether', 'client sees the response header');
        my ($sok, $serr) = settle($event, $server_courier->done);
        is(eval { $serr->close_code }, 4001, 'the server courier ends the same way');

        # A refused upgrade.
        my $refused = Tether::Client::connect(connect_args($event, url => $server->url));
        ($ok, $err) = settle($event, $refused);
        isa_ok($err, 'Tether::X::Handshake', 'no token');
        is(eval { $err->status }, 403, 'HTTP 403');
        $server->close;

        # Nobody listens any more.
        my $gone = Tether::Client::connect(connect_args($event, url => $server->url));
        ($ok, $err) = settle($event, $gone);
        isa_ok($err, 'Tether::X::Connect', 'after close, nobody listens');
    };

    subtest "$event: warnings, misuse" => sub {
        my @warnings;
        local $SIG{__WARN__} = sub { push @warnings, $_[0] };
        my ($courier, $sent_while_closing, $sent_while_open);
        my $done = Tether::Client::connect(
            connect_args($event,
                url      => $serve->url,
                on_ready => sub {
                    my ($c) = @_;
                    $courier = $c;
                    $c->on_text(sub {
                        die "listener bug\n" if $_[0] eq 'die';
                        $c->close;
                        $sent_while_closing = $c->send_text('too late');
                    });
                    $sent_while_open = $c->send_binary('nobody listens for binary');
                    $c->send_text('die');
                    $c->send_text('close now');
                })
        );
        my ($ok, $v) = settle($event, $done);
        ok($ok, 'closed normally');
        is($sent_while_open, 1, 'a send returns 1');
        is($sent_while_closing, 0, 'a send while closing is dropped and returns 0');
        ok((grep { /binary message arrived, but no on_binary listener/ } @warnings),
            'warned: no binary listener');
        ok((grep { /listener bug/ } @warnings), 'a dying listener is reported');
        eval { $courier->send_text('late') };
        isa_ok($@, 'Tether::X::NotOpen', 'send after close');
        is($courier->state, 'closed', 'state closed');
        is_deeply($courier->status, [ 1000, '' ], 'status');
        eval { Tether::Client::connect(connect_args($event, url => $serve->url, bogus => 1)) };
        isa_ok($@, 'Tether::X::Usage', 'unknown option');
        eval { Tether::Client::connect(event => 'Tk', url => $serve->url) };
        isa_ok($@, 'Tether::X::Usage', 'unknown loop');
        my $bad = Tether::Client::connect(connect_args($event, url => 'http://x/'));
        ($ok, my $err) = settle($event, $bad);
        isa_ok($err, 'Tether::X::Usage', 'not a ws:// URL');
    };

    subtest "$event: many connections at once" => sub {
        my @done;
        my $n = 0;
        for my $i (1 .. 50) {
            push @done, Tether::Client::connect(
                connect_args($event,
                    url      => $serve->url,
                    on_ready => sub {
                        my ($c) = @_;
                        $c->on_text(sub { $n++ if $_[0] eq "n$i"; $c->close });
                        $c->send_text("n$i");
                    })
            );
        }
        my $all = 0;
        $all += (settle($event, $_))[0] ? 1 : 0 for @done;
        is($all, 50, '50 concurrent clients closed normally');
        is($n, 50, 'each got its own echo');
    };

    $serve->stop;
}

1;
