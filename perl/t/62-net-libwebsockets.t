# Coming from Net::Libwebsockets: its SYNOPSIS with only the module name
# changed (against `tether serve`'s echo), the event => [NAME, LOOP] form,
# and the promise the AnyEvent adapter returns (Promises/A+).
use v5.36;
use lib 't/lib';
use Test::More;
use AnyEvent;
use Tether::Client;
use Tether::Promise;
use TetherTest qw(start_tether_serve);

my $serve = start_tether_serve();
my $url   = $serve->url;

subtest 'the Net::Libwebsockets SYNOPSIS, module name changed' => sub {
    my (@got, $finished, $failed);
    my $guard = AE::timer(10, 0, sub { fail('timed out'); exit 1 });

    # ---- from Net::Libwebsockets' SYNOPSIS (url and bodies filled in) ----
    my $cv = AE::cv();

    my $done_p = Tether::Client::connect(
        url   => $url,
        event => 'AnyEvent',
        on_ready => sub ($courier) {

            # $courier ferries messages between the caller and the peer:

            $courier->send_text( "caf\x{e9} \x{263a}" );
            $courier->send_binary( "\x00\xff" );

            # If a message arrives for a type that has no listener,
            # a warning is thrown.
            $courier->on_text( sub ($characters) { push @got, $characters } );
            $courier->on_binary( sub ($bytes) { push @got, $bytes; $courier->close } );
        },
    );

    # This promise finishes when the connection is done.
    # On successful close it resolves with [ $code, $reason ];
    # see the documentation for failure-case behavior.
    #
    $done_p->then(
        sub ($status_reason_ar) { $finished = $status_reason_ar },
        sub ($err) {
            $failed = $err;
        },
    )->finally($cv);
    # ----------------------------------------------------------------------

    $cv->recv;
    is_deeply($finished, [ 1000, '' ], 'resolved with [code, reason]') or diag("failed: $failed");
    is_deeply(\@got, [ "caf\x{e9} \x{263a}", "\x00\xff" ], 'both messages echoed');
    is_deeply($done_p->recv, [ 1000, '' ], 'and recv still works, as on a condvar');
};

subtest q{event => ['IOAsync', $loop]} => sub {
    require IO::Async::Loop;
    my $loop = IO::Async::Loop->new;
    my $got;
    my $f = Tether::Client::connect(
        url      => $url,
        event    => [ 'IOAsync', $loop ],
        on_ready => sub ($c) {
            $c->on_text(sub ($t) { $got = $t; $c->close });
            $c->send_text('via IO::Async');
        },
    );
    isa_ok($f, 'Future');
    my $timeout = $loop->delay_future(after => 10)->then(sub { Future->fail('timed out') });
    my $v = $loop->await(Future->wait_any($f, $timeout))->get;
    is_deeply($v, [ 1000, '' ], 'the Future resolves');
    is($got, 'via IO::Async', 'echoed');
};

subtest 'Tether::Promise follows Promises/A+' => sub {
    my @seen;
    my ($p, $resolve, $reject) = Tether::Promise->deferred;
    my $chain = $p->then(sub ($v) { push @seen, "then $v"; $v + 1 })
      ->then(sub ($v) { push @seen, "then $v"; die "boom\n" })
      ->then(sub { push @seen, 'skipped' })
      ->catch(sub ($e) { push @seen, "caught $e"; my ($q, $r) = Tether::Promise->deferred;
                         my $t; $t = AE::timer(0.01, 0, sub { undef $t; $r->('later') }); $q })
      ->then(sub ($v) { push @seen, "adopted $v"; $v });
    my $fin = 0;
    my $last = $chain->finally(sub { $fin++ });
    $resolve->(1);
    is_deeply(\@seen, [], 'callbacks do not run inside resolve');
    $resolve->(99);    # settled already: ignored
    $reject->('no');
    is($last->recv, 'later', 'the chain ends with the adopted value');
    is_deeply(\@seen, [ 'then 1', 'then 2', "caught boom\n", 'adopted later' ], 'in order');
    is($fin, 1, 'finally ran once, and passed the value on');
    my ($p2, undef, $reject2) = Tether::Promise->deferred;
    my $after = $p2->finally(sub { })->catch(sub ($e) { "recovered from $e" });
    $reject2->('bad');
    is($after->recv, 'recovered from bad', 'finally passes a rejection on');
    ok(!eval { $p2->recv; 1 } && $@ =~ /^bad/, 'recv dies with the reason');
};

subtest 'LLL_* log masks and compression => [\'deflate\']' => sub {
    use Tether qw(:lll :log);
    my @lines;
    Tether::set_log_callback(sub { push @lines, $_[1] });
    Tether::set_log_level(LLL_ERR | LLL_WARN | LLL_NOTICE);
    my ($p, $resolve) = Tether::Promise->deferred;
    my $got;
    my $deflating = start_tether_serve('--deflate');
    Tether::Client::connect(
        url         => $deflating->url,
        event       => 'AnyEvent',
        compression => ['deflate'],
        on_ready    => sub ($c) {
            $got = $c->extensions;
            $c->close;
        },
    )->finally(sub { $resolve->(1) });
    $p->recv;
    Tether::set_log_level(LOG_NONE);
    Tether::set_log_callback(undef);
    like($got // '', qr/permessage-deflate/, 'compression negotiated');
    ok((grep { /client open/ } @lines), 'LLL_NOTICE in the mask: connections are logged');
    ok(!eval { Tether::Client::connect(url => $url, event => 'AnyEvent', compression => ['gzip']); 1 },
        'an unknown compression name is refused');
    like($@, qr/deflate/, '... saying what is taken');
};

subtest 'close returns the promise of the end' => sub {
    my ($closed, $p1, $p2);
    my $done = Tether::Client::connect(
        url      => $url,
        event    => 'AnyEvent',
        on_ready => sub ($c) {
            $p1 = $c->close(1000, 'later');
            $p2 = $c->close;    # again: the same promise, nothing sent
            $p1->then(sub ($v) { $closed = $v });
        },
    );
    my $timeout = AE::timer(10, 0, sub { $done->croak('timed out') });
    my $v = $done->recv;
    is($v->[0], 1000, 'closed with our code');
    is($p1, $done, 'close returned the connection\'s promise');
    is($p2, $done, '... both times');
    my $settle = AE::cv();
    my $t = AE::timer(0.05, 0, sub { $settle->send });
    $settle->recv;
    is_deeply($closed, $v, 'and it resolved with [code, reason]');
};

subtest 'pause returns a guard whose release resumes' => sub {
    require Tether::Server;
    my (@got, $guard, $server_c);
    my $server = Tether::Server->new(
        event         => 'AnyEvent',
        on_connection => sub ($c) {
            $server_c = $c;
            $guard    = $c->pause;
            $c->on_text(sub ($t) { push @got, $t; $c->close if @got == 2 });
        },
    );
    my $done = Tether::Client::connect(
        url      => 'ws://127.0.0.1:' . $server->port . '/',
        event    => 'AnyEvent',
        on_ready => sub ($c) { $c->send_text('one'); $c->send_text('two') },
    );
    my $wait = AE::cv();
    my $t = AE::timer(0.3, 0, sub { $wait->send });
    $wait->recv;
    isa_ok($guard, 'Tether::Courier::Pause');
    is_deeply(\@got, [], 'nothing delivered while the guard lives');
    undef $guard;
    my $timeout = AE::timer(10, 0, sub { $done->croak('timed out') });
    is_deeply($done->recv, [ 1000, '' ], 'the client sees the close');
    is_deeply(\@got, [ 'one', 'two' ], 'both delivered once it went away');
    $server->close;
};

done_testing;
