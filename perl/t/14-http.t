# on_http: plain HTTP requests answered on the WebSocket port (a health
# check, JSON, headers, 404 when unanswered, 500 when the callback dies),
# keep-alive, and a WebSocket client on the same port. The HTTP client is
# HTTP::Tiny in a child process, so the server's loop runs meanwhile.
use strict;
use warnings;
use Test::More;
use AnyEvent;
use HTTP::Tiny;
use Tether::Client;
use Tether::Server;

my $server = Tether::Server->new(
    event   => 'AnyEvent',
    on_http => sub {
        my ($req) = @_;
        my $path = $req->path;
        if ($path eq '/healthz') {
            $req->respond(200, "OK\n");
        } elsif ($path eq '/info') {
            my $q = $req->query // '';
            $req->respond(200, qq({"method":"@{[ $req->method ]}","q":"$q"}),
                content_type => 'application/json',
                headers      => [ 'X-Served-By' => 'tether', 'Cache-Control' => 'no-store' ]);
        } elsif ($path eq '/caf') {
            $req->respond(200, "caf\x{e9} \x{263a}");
        } elsif ($path eq '/die') {
            die "a bug in on_http\n";
        }
        # anything else: unanswered, so 404
    },
    on_connection => sub {
        my ($c) = @_;
        $c->on_text(sub { $c->send_text(uc $_[0]) });
    },
);
my $base = 'http://127.0.0.1:' . $server->port;

# The child fetches, one connection kept alive, and reports each response
# as "status|content-type|x-served-by|body-hex" lines on a pipe.
pipe(my $r, my $w) or die "pipe: $!";
my $pid = fork // die "fork: $!";
if (!$pid) {
    close $r;
    my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 1);
    for my $p ('/healthz', '/info?x=1', '/caf', '/nothing', '/die') {
        my $res = $http->get("$base$p");
        my $h = $res->{headers};
        print {$w} join('|', $res->{status}, $h->{'content-type'} // '', $h->{'x-served-by'} // '',
            unpack('H*', $res->{content} // '')), "\n";
    }
    close $w;
    require POSIX;
    POSIX::_exit(0);
}
close $w;
my $done = AE::cv();
my $child = AE::child($pid, sub { $done->send });
my $t = AE::timer(30, 0, sub { kill 'KILL', $pid; $done->send });
$done->recv;
my @got = map { chomp; [ split /\|/, $_, -1 ] } <$r>;
is(scalar @got, 5, 'five responses');
is_deeply($got[0], [ 200, 'text/plain; charset=utf-8', '', unpack('H*', "OK\n") ], 'health check');
is($got[1][0], 200, 'JSON: status');
is($got[1][1], 'application/json', 'JSON: content type');
is($got[1][2], 'tether', 'JSON: an extra header');
is(pack('H*', $got[1][3]), '{"method":"GET","q":"x=1"}', 'JSON: body with method and query');
is(pack('H*', $got[2][3]), "caf\xc3\xa9 \xe2\x98\xba", 'characters go as UTF-8');
is($got[3][0], 404, 'unanswered: 404');
is($got[4][0], 500, 'the callback died: 500');

# A WebSocket on the same port, as before.
my $reply = AE::cv();
my $cv = Tether::Client::connect(
    url      => "ws://127.0.0.1:" . $server->port . "/chat",
    event    => 'AnyEvent',
    on_ready => sub {
        my ($c) = @_;
        $c->on_text(sub { $reply->send($_[0]); $c->close });
        $c->send_text('hello');
    },
);
my $t2 = AE::timer(10, 0, sub { $reply->send('timeout') });
is($reply->recv, 'HELLO', 'a WebSocket on the same port');
eval { $cv->recv };
$server->close;
done_testing;
