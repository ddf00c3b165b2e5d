# reconnect => ...: a client whose connection fails or is lost connects
# again (the C library's retry policy), with the same Tether::Courier: on
# each loop, a server stopped and started again on the same port, a limit
# on the attempts ending in the promise's rejection, a close during the
# wait; the blocking client against the tether tool killed and started
# again; the option's forms and its misuse.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use IO::Socket::INET;
use POSIX qw(ECONNREFUSED);
use Scalar::Util qw(refaddr);
use Time::HiRes ();
use AnyEvent;
use Tether::Blocking::Client;
use Tether::Client;
use Tether::Options;
use Tether::Raw;
use Tether::Server;
use LoopTests qw(settle loop_for);
use TetherTest qw(start_tether_serve with_timeout);

my @LOOPS = ('AnyEvent', 'IO::Async', 'Mojolicious');

sub args_for {
    my ($event, %a) = @_;
    return (event => $event, (loop_for($event) ? (loop => loop_for($event)) : ()), %a);
}

# A port where nobody listens: bound, not listening, so connecting to it is
# refused (ECONNREFUSED) and no one else can take it meanwhile.
sub refusing_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp')
      or die "bind: $!";
    return ($s, $s->sockport);
}

# Sets $$flag once the promise settles, whichever way.
sub watch_settled {
    my ($event, $p, $flag) = @_;
    if    ($event eq 'AnyEvent')  { $p->cb(sub { $$flag = 1 }) }
    elsif ($event eq 'IO::Async') { $p->on_ready(sub { $$flag = 1 }) }
    else                          { $p->then(sub { $$flag = 1 }, sub { $$flag = 1 }) }
}

sub echo_server {
    my ($event, $port) = @_;
    return Tether::Server->new(args_for($event,
        port          => $port,
        on_connection => sub {
            my ($c) = @_;
            $c->on_text(sub { $c->send_text($_[0]) });
        }));
}

with_timeout(120, sub {
    for my $event (@LOOPS) {
        subtest "$event: the server restarts on the same port" => sub {
            my $server = echo_server($event, 0);
            my $port = $server->port;
            my (@ready, @reconnected, @retries, @texts, @not_open, $courier, $settled);
            my $done = Tether::Client::connect(args_for($event,
                url       => "ws://127.0.0.1:$port/",
                reconnect => [ 0.05, 0.1 ],
                on_ready  => sub {
                    my ($c) = @_;
                    push @ready, refaddr $c;
                    $courier = $c;
                    $c->on_text(sub {
                        my ($text) = @_;
                        push @texts, $text;
                        if ($text eq 'first') {
                            # Goes away as a restarting server does, and
                            # stops listening: the next attempt is refused.
                            $server->shutdown(1012, 'restarting');
                            $server->close;
                            undef $server;
                        }
                        else {
                            $c->close(1000, 'done');
                        }
                    });
                    $c->send_text('first');
                },
                on_retry => sub {
                    my ($err, $delay, $attempt, $c) = @_;
                    push @retries, {
                        class   => ref $err,
                        code    => $err->close_code,
                        errno   => $err->errno + 0,
                        message => $err->message,
                        delay   => $delay,
                        attempt => $attempt,
                        courier => refaddr $c,
                        state   => $c->state,
                        settled => $settled ? 1 : 0,
                    };
                    eval { $c->send_text('lost') };
                    push @not_open, ref $@;
                    # Back on the same port, after one refused attempt.
                    $server = echo_server($event, $port) if $attempt == 2;
                },
                on_reconnect => sub {
                    my ($c) = @_;
                    push @reconnected, refaddr $c;
                    $c->send_text('second');
                },
            ));
            watch_settled($event, $done, \$settled);
            my ($ok, $v) = settle($event, $done, 15);
            ok($ok, 'the promise resolves, at the final close') or diag("$v");
            is_deeply($v, [ 1000, '' ], '... with [code, reason]');
            is(scalar @ready, 1, 'on_ready is called once');
            is_deeply(\@reconnected, [ refaddr $courier ],
                'on_reconnect once, with the same courier');
            is_deeply(\@texts, [ 'first', 'second' ], 'echoed before and after, by one courier');
            is_deeply(
                \@retries,
                [
                    {
                        class   => 'Tether::X::WebSocketClose',
                        code    => 1012,
                        errno   => 0,
                        message => 'the connection closed with code 1012: restarting',
                        delay   => 0.05,
                        attempt => 1,
                        courier => refaddr $courier,
                        state   => 'connecting',
                        settled => 0,
                    },
                    {
                        class   => 'Tether::X::Connect',
                        code    => 1006,
                        errno   => ECONNREFUSED,
                        message => "connection refused (127.0.0.1:$port)",
                        delay   => 0.1,
                        attempt => 2,
                        courier => refaddr $courier,
                        state   => 'connecting',
                        settled => 0,
                    },
                ],
                'on_retry: why, the table\'s delays, the attempts, the same courier'
            );
            is_deeply(\@not_open, [ 'Tether::X::NotOpen', 'Tether::X::NotOpen' ],
                'sends while waiting throw Tether::X::NotOpen');
            my $st = $courier->stats;
            is($st->{reconnects}, 1, 'stats: reconnects counts the reopening (not the refused attempt)');
            is($st->{messages_out}, 2, 'stats: messages across both connections');
            is($st->{messages_in}, 2, '... both ways');
            is($courier->state, 'closed', 'closed at the end');
            $server->close if $server;
        };

        subtest "$event: max_tries, then the promise rejects" => sub {
            my ($hole, $port) = refusing_port();
            my (@retries, $readied);
            my $t0 = Time::HiRes::time();
            my $done = Tether::Client::connect(args_for($event,
                url       => "ws://127.0.0.1:$port/",
                reconnect => { delay => 0.02, max_tries => 2, jitter => 0 },
                on_ready  => sub { $readied = 1 },
                on_retry  => sub {
                    my ($err, $delay, $attempt) = @_;
                    push @retries, [ ref $err, $err->errno + 0, $delay, $attempt ];
                },
            ));
            my ($ok, $err) = settle($event, $done, 10);
            my $took = Time::HiRes::time() - $t0;
            ok(!$ok, 'rejected');
            isa_ok($err, 'Tether::X::Connect');
            is(eval { $err->errno + 0 }, ECONNREFUSED, '... errno ECONNREFUSED');
            is(eval { $err->message }, "connection refused (127.0.0.1:$port)", '... the address');
            is(eval { $err->close_code }, 1006, '... close code 1006');
            is_deeply(
                \@retries,
                [
                    [ 'Tether::X::Connect', ECONNREFUSED, 0.02, 1 ],
                    [ 'Tether::X::Connect', ECONNREFUSED, 0.04, 2 ],
                ],
                'two retries, the delay doubling'
            );
            ok($took >= 0.06, 'after waiting both delays') or diag("took $took s");
            ok(!$readied, 'on_ready never called');
        };

        subtest "$event: close during the wait" => sub {
            my ($hole, $port) = refusing_port();
            my @retries;
            my $done = Tether::Client::connect(args_for($event,
                url       => "ws://127.0.0.1:$port/",
                reconnect => 1,
                on_retry  => sub {
                    my ($err, $delay, $attempt, $c) = @_;
                    push @retries, [ $delay, $attempt ];
                    $c->close;    # gives up at once, not after the delay
                },
            ));
            my $t0 = Time::HiRes::time();
            my ($ok, $err) = settle($event, $done, 10);
            ok(!$ok, 'rejected');
            isa_ok($err, 'Tether::X::ConnectionLost');
            is(eval { $err->close_code }, 1006, '... close code 1006');
            is(eval { $err->reason }, 'cancelled before the connection opened', '... and why');
            is(scalar @retries, 1, 'one retry, none after the close');
            is($retries[0][1], 1, 'attempt 1');
            # reconnect => 1: 2 s, and up to 20% more.
            ok($retries[0][0] >= 2 && $retries[0][0] <= 2.4, 'the default first delay')
              or diag("delay $retries[0][0]");
            ok(Time::HiRes::time() - $t0 < 2, 'settled without waiting the delay');
        };
    }

    subtest 'blocking: the tether tool killed and started again' => sub {
        my $serve = start_tether_serve();
        my $port = $serve->port;
        my ($serve2, @retries, @reconnected, $mode, $closed_by_retry);
        $mode = 'restart';
        my $ws = Tether::Blocking::Client->connect(
            url          => $serve->url,
            timeout      => 10,
            reconnect    => { delay => 0.05, max_delay => 0.05, jitter => 0 },
            on_retry     => sub {
                my ($err, $delay, $attempt, $c) = @_;
                push @retries, [ ref $err, $err->close_code, $delay, $attempt, $c->state ];
                if ($mode eq 'restart') {
                    $serve2 = start_tether_serve('--port', $port);
                }
                else {
                    eval { $c->close };
                    $closed_by_retry = $@;
                }
            },
            on_reconnect => sub {
                my ($c) = @_;
                push @reconnected, refaddr $c;
                $c->send_text('again');
            },
        );
        $ws->send_text('one');
        is(scalar $ws->recv, 'one', 'echo from the first server');
        kill 'KILL', $serve->pid;
        $serve->stop;
        is(scalar $ws->recv, 'again', 'recv waits through the reconnection');
        is_deeply(\@retries, [ [ 'Tether::X::ConnectionLost', 1006, 0.05, 1, 'connecting' ] ],
            'on_retry: the connection was lost');
        is_deeply(\@reconnected, [ refaddr $ws ], 'on_reconnect, with the same connection');
        is($serve2->port, $port, 'the second server is on the same port');
        is($ws->stats->{messages_in}, 2, 'stats across both connections');

        $mode = 'stop';
        @retries = ();
        kill 'KILL', $serve2->pid;
        $serve2->stop;
        eval { $ws->recv };
        isa_ok($@, 'Tether::X::ConnectionLost', 'closed during the wait: recv');
        isa_ok($closed_by_retry, 'Tether::X::ConnectionLost', '... close in on_retry');
        is(eval { $closed_by_retry->reason }, 'cancelled before the connection opened',
            '... cancelled');
        is(scalar @retries, 1, 'one retry');
        is($ws->state, 'closed', 'closed');

        my ($hole, $dead) = refusing_port();
        @retries = ();
        eval {
            Tether::Blocking::Client->connect(
                url       => "ws://127.0.0.1:$dead/",
                timeout   => 10,
                reconnect => { delay => 0.02, max_tries => 2, jitter => 0 },
                on_retry  => sub { push @retries, [ $_[1], $_[2] ] },
            );
        };
        my $err = $@;
        isa_ok($err, 'Tether::X::Connect', 'max_tries: connect throws');
        is(eval { $err->errno + 0 }, ECONNREFUSED, '... ECONNREFUSED');
        is_deeply(\@retries, [ [ 0.02, 1 ], [ 0.04, 2 ] ], '... after two retries');
    };

    subtest 'the option, and its misuse' => sub {
        my ($hole, $port) = refusing_port();
        my $url = "ws://127.0.0.1:$port/";
        my @bad = (
            [ { bogus => 1 },                      qr/unknown reconnect option 'bogus'/ ],
            [ { delay => -1 },                     qr/reconnect delay: a number of seconds/ ],
            [ { delay => 0 },                      qr/reconnect delay: at least 0\.001 seconds/ ],
            [ { delay => 'soon' },                 qr/reconnect delay: a number of seconds/ ],
            [ { delay => 2, max_delay => 1 },      qr/max_delay is shorter than delay/ ],
            [ { jitter => 101 },                   qr/jitter is a percentage/ ],
            [ { max_tries => -1 },                 qr/max_tries is a whole number/ ],
            [ [],                                  qr/needs at least one delay/ ],
            [ { steps => [1], delay => 1 },        qr/steps, or delay and max_delay, not both/ ],
            [ \'x',                                qr/reconnect => 1, \{ delay/ ],
        );
        for my $b (@bad) {
            eval { Tether::Blocking::Client->connect(url => $url, reconnect => $b->[0]) };
            isa_ok($@, 'Tether::X::Usage');
            like("$@", $b->[1], "refused: $b->[1]");
        }
        eval { Tether::Server->new(event => 'AnyEvent', on_connection => sub { }, reconnect => 1) };
        like("$@", qr/reconnect is a client option/, 'not for a server');
        eval { Tether::Client::connect(event => 'AnyEvent', url => $url, on_retry => 1) };
        like("$@", qr/on_retry must be a code reference/, 'on_retry is a code ref');
        eval { Tether::Blocking::Client->connect(url => $url, on_reconnect => []) };
        like("$@", qr/on_reconnect must be a code reference/, 'on_reconnect too');

        # Tether::Raw: the table of delays is an array ref of milliseconds.
        my $o = Tether::Raw::tether_opts_new();
        is(Tether::Raw::tether_opts_set_retry_steps($o, [ 50, 100 ], 0, 3), 0,
            'Raw: tether_opts_set_retry_steps takes an array ref');
        is(Tether::Raw::tether_opts_set_retry_steps($o, [], 0, 0), $Tether::Raw::TETHER_E_INVAL,
            'Raw: ... and refuses an empty one');
        eval { Tether::Raw::tether_opts_set_retry_steps($o, 50, 0, 0) };
        like($@, qr/an array reference of milliseconds is expected/, 'Raw: ... not a number');
        is(Tether::Raw::tether_opts_set_retry_backoff($o, 100, 50, 0, 0),
            $Tether::Raw::TETHER_E_INVAL, 'Raw: max_ms < first_ms is refused');
        Tether::Raw::tether_opts_free($o);

        # Off: the first refusal ends it, no retry.
        my $called = 0;
        eval {
            Tether::Blocking::Client->connect(url => $url, timeout => 5, reconnect => 0,
                on_retry => sub { $called++ });
        };
        isa_ok($@, 'Tether::X::Connect', 'reconnect => 0');
        is($called, 0, '... no retry');
        # A first delay past max_delay's default (60 s) raises the cap with it.
        ok(eval { Tether::Raw::tether_opts_free(
                    Tether::Options->build({ reconnect => { delay => 90 } }, 'client')); 1 },
            'delay => 90 alone is fine') or diag("$@");
        my @delays;
        eval {
            Tether::Blocking::Client->connect(url => $url, timeout => 5,
                reconnect => { delay => 0.001, max_tries => 3, jitter => 0 },
                on_retry  => sub { push @delays, $_[1] });
        };
        is_deeply(\@delays, [ 0.001, 0.002, 0.004 ], 'the backoff doubles');
    };
});

done_testing;
