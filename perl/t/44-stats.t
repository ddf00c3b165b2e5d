# stats: tether_conn_stats() as a hash, on a client's and a server's
# courier (after an echo of known messages and a ping), after the end, and
# on the blocking connections, client and server.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use IPC::Open3;
use Symbol 'gensym';
use AnyEvent;
use Tether::Blocking::Client;
use Tether::Blocking::Server;
use Tether::Client;
use Tether::Server;
use LoopTests qw(settle);
use TetherTest qw(start_tether_serve tether_tool with_timeout);

my @FIELDS = sort qw(resolve_us connect_us proxy_us tls_us handshake_us rtt_us rtt_min_us
  rtt_max_us rtt_samples wire_in wire_out messages_in messages_out payload_in payload_out
  reconnects);

my $TEXT   = "caf\x{e9} \x{263a}";    # 9 bytes of UTF-8
my $BINARY = "\x00\xff" x 500;         # 1000 bytes

with_timeout(60, sub {
    subtest 'a client and a server courier' => sub {
        my ($server_courier, $client, $client_stats, $server_stats, @echoes);
        my $server = Tether::Server->new(
            event         => 'AnyEvent',
            on_connection => sub {
                my ($c) = @_;
                $server_courier = $c;
                $c->on_text(sub { $c->send_text($_[0]) });
                $c->on_binary(sub { $c->send_binary($_[0]) });
            });
        my $done = Tether::Client::connect(
            url      => $server->url,
            event    => 'AnyEvent',
            on_ready => sub {
                my ($c) = @_;
                $client = $c;
                my $fresh = $c->stats;
                is($fresh->{messages_out}, 0, 'nothing sent yet');
                $c->on_pong(sub {
                    $client_stats = $c->stats;
                    $server_stats = $server_courier->stats;
                    $c->close(1000, 'done');
                });
                my $echo = sub {
                    push @echoes, $_[0];
                    $c->ping('rtt') if @echoes == 2;
                };
                $c->on_text($echo);
                $c->on_binary($echo);
                $c->send_text($TEXT);
                $c->send_binary($BINARY);
            });
        my ($ok, $v) = settle('AnyEvent', $done);
        ok($ok, 'closed normally') or diag("$v");
        is_deeply(\@echoes, [ $TEXT, $BINARY ], 'both messages echoed');

        my $c = $client_stats;
        is_deeply([ sort keys %$c ], \@FIELDS, 'the C struct\'s field names');
        is($c->{messages_out}, 2, 'client: messages_out');
        is($c->{messages_in}, 2, 'client: messages_in');
        is($c->{payload_out}, 1009, 'client: payload_out, the text\'s UTF-8 bytes and the binary');
        is($c->{payload_in}, 1009, 'client: payload_in');
        ok($c->{wire_out} > $c->{payload_out}, 'client: wire_out counts the request and the frames')
          or diag("wire_out $c->{wire_out}");
        ok($c->{wire_in} > $c->{payload_in}, 'client: wire_in counts the 101 and the frames')
          or diag("wire_in $c->{wire_in}");
        ok($c->{handshake_us} > 0, 'client: handshake_us');
        ok($c->{connect_us} > 0, 'client: connect_us');
        is($c->{tls_us}, 0, 'client: no TLS');
        is($c->{proxy_us}, 0, 'client: no proxy');
        is($c->{rtt_samples}, 1, 'client: one ping, one round trip');
        ok($c->{rtt_us} > 0, 'client: rtt_us');
        is($c->{rtt_min_us}, $c->{rtt_us}, 'client: rtt_min_us, of one sample');
        is($c->{rtt_max_us}, $c->{rtt_us}, 'client: rtt_max_us, of one sample');
        is($c->{reconnects}, 0, 'client: no reconnection');

        my $s = $server_stats;
        is_deeply([ sort keys %$s ], \@FIELDS, 'server: the same fields');
        is($s->{messages_in}, 2, 'server: messages_in');
        is($s->{messages_out}, 2, 'server: messages_out');
        is($s->{payload_in}, 1009, 'server: payload_in');
        is($s->{payload_out}, 1009, 'server: payload_out');
        is($s->{wire_in}, $c->{wire_out}, 'one TCP stream: what the client wrote, the server read');
        is($s->{wire_out}, $c->{wire_in}, '... and the other way');
        ok($s->{handshake_us} > 0, 'server: handshake_us');
        is($s->{resolve_us} + $s->{connect_us}, 0, 'server: resolves and connects nothing');
        is($s->{rtt_samples}, 0, 'server: it answered the ping, it did not ask');

        my $end = $client->stats;
        is($client->state, 'closed', 'after the end');
        is($end->{messages_out}, 2, '... stats still answers: the last figures');
        ok($end->{wire_out} > $c->{wire_out}, '... with the closing handshake\'s bytes');
        $server->close;
    };

    subtest 'blocking client' => sub {
        my $serve = start_tether_serve();
        my $ws = Tether::Blocking::Client->connect(url => $serve->url, timeout => 10);
        $ws->send_text('hello');
        is(scalar $ws->recv, 'hello', 'echo');
        is($ws->ping('x'), 'x', 'pong');
        my $st = $ws->stats;
        is_deeply([ sort keys %$st ], \@FIELDS, 'the fields');
        is_deeply([ @$st{qw(messages_out messages_in payload_out payload_in rtt_samples)} ],
            [ 1, 1, 5, 5, 1 ], 'messages, payload, one round trip');
        ok($st->{handshake_us} > 0, 'handshake_us');
        ok($st->{wire_out} > 5, 'wire_out');
        $ws->close;
        is($ws->stats->{messages_in}, 1, 'after close: the last figures');
        $serve->stop;
    };

    subtest 'blocking server, the tether tool as client' => sub {
        my $tool = tether_tool() or plan skip_all => 'no tether tool';
        my $server = Tether::Blocking::Server->new(timeout => 10);
        my $pid = open3(my $in, my $out, my $err = gensym, $tool, 'connect', $server->url);
        print {$in} "one\ntwo\n";
        close $in;
        my $ws = $server->accept(10);
        while (my ($m) = $ws->recv) {
            $ws->send_text(uc $m);
        }
        my $printed = do { local $/; <$out> };
        waitpid($pid, 0);
        is($printed, "ONE\nTWO\n", 'the tool got the answers');
        my $st = $ws->stats;
        is($ws->state, 'closed', 'closed by the tool');
        is_deeply([ @$st{qw(messages_in messages_out payload_in payload_out)} ], [ 2, 2, 6, 6 ],
            'server side: messages and payload each way');
        is($st->{resolve_us}, 0, 'a server resolves nothing');
        ok($st->{handshake_us} > 0, 'handshake_us');
        $server->close;
    };
});

done_testing;
