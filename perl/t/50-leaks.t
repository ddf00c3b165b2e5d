# No growth in memory or file descriptors over 10,000 connect/close cycles.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use AnyEvent;
use POSIX ();
use Time::HiRes ();
use Tether::Blocking::Client;
use Tether::Client;
use Tether::Server;
use TetherTest qw(rss_kb fd_count);

my $CYCLES = $ENV{TETHER_LEAK_CYCLES} || 10_000;
my $WARMUP = 1_000;
my $INFLIGHT = 16;

my $server = Tether::Server->new(
    event         => 'AnyEvent',
    on_connection => sub {
        my ($c) = @_;
        $c->on_text(sub { $c->send_text($_[0]) });
    },
);
my $url = $server->url;

# Runs $n cycles (connect, one message each way, close), $INFLIGHT at a time.
sub cycles {
    my ($n) = @_;
    my ($started, $finished, $ok) = (0, 0, 0);
    my $cv = AE::cv();
    my $start;
    $start = sub {
        return if $started >= $n;
        $started++;
        Tether::Client::connect(
            url      => $url,
            event    => 'AnyEvent',
            on_ready => sub {
                my ($c) = @_;
                $c->on_text(sub { $c->close });
                $c->send_text('ping');
            },
        )->cb(sub {
            $ok++ if eval { $_[0]->recv; 1 };
            $finished++;
            $finished == $n ? $cv->send : $start->();
        });
    };
    $start->() for 1 .. $INFLIGHT;
    my $t = AE::timer(120, 0, sub { $cv->send });
    $cv->recv;
    undef $start;
    return $ok;
}

# Lets the last cycles finish closing TCP: a server lingers after the
# closing handshake until the client's FIN (bounded by the close timeout),
# and a client waits for the server's. Runs the loop until no server
# connection is left and the descriptor count holds still, at most 15 s.
sub settle {
    my $deadline = Time::HiRes::time() + 15;
    my $last = -1;
    while (Time::HiRes::time() < $deadline) {
        my $cv = AE::cv();
        my $t  = AE::timer(0.05, 0, sub { $cv->send });
        $cv->recv;
        my $now = fd_count();
        last if $now == $last && !$server->connections;
        $last = $now;
    }
}

my $t0 = Time::HiRes::time();
is(cycles($WARMUP), $WARMUP, "$WARMUP warm-up cycles");
settle();
my ($rss0, $fd0) = (rss_kb(), fd_count());
is(cycles($CYCLES), $CYCLES, "$CYCLES connect/close cycles, all clean");
settle();
my ($rss1, $fd1) = (rss_kb(), fd_count());
my $secs = Time::HiRes::time() - $t0;
diag(sprintf '%d cycles in %.1f s; RSS %d -> %d KB; fds %d -> %d',
    $WARMUP + $CYCLES, $secs, $rss0, $rss1, $fd0, $fd1);
is($fd1, $fd0, 'no file descriptor left behind');
cmp_ok($rss1 - $rss0, '<', 1024, 'RSS grew by less than 1 MB');
is(scalar($server->connections), 0, 'no connection left on the server');

# Blocking clients: a context each, so contexts and their descriptors too.
# The server runs in a child (this process blocks).
$ENV{TMPDIR} //= '/tmp';
my $server_pid = fork // die;
if (!$server_pid) {
    my $s = Tether::Server->new(
        event         => 'AnyEvent',
        on_connection => sub { my ($c) = @_; $c->on_text(sub { $c->send_text($_[0]) }) },
    );
    open my $fh, '>', "$ENV{TMPDIR}/tether-leak-port.$$.tmp" or die;
    print $fh $s->port;
    close $fh;
    rename "$ENV{TMPDIR}/tether-leak-port.$$.tmp", "$ENV{TMPDIR}/tether-leak-port.$$";
    my $t = AE::timer(60, 0, sub { POSIX::_exit(0) });
    AE::cv()->recv;
}
my $portfile = "$ENV{TMPDIR}/tether-leak-port.$server_pid";
my $deadline = Time::HiRes::time() + 10;
Time::HiRes::sleep(0.02) until -s $portfile || Time::HiRes::time() > $deadline;
my $burl = 'ws://127.0.0.1:' . do { open my $f, '<', $portfile or die; local $/; <$f> } . '/';
unlink $portfile;

sub blocking_cycles {
    my ($n) = @_;
    my $ok = 0;
    for (1 .. $n) {
        my $ws = Tether::Blocking::Client->connect(url => $burl, timeout => 5);
        $ws->send_text('x');
        $ok++ if $ws->recv eq 'x' && $ws->close->[0] == 1000;
    }
    return $ok;
}
blocking_cycles(200);
my ($brss0, $bfd0) = (rss_kb(), fd_count());
is(blocking_cycles(2000), 2000, '2,000 blocking clients, each with its own context');
is(fd_count(), $bfd0, '... no descriptor left behind');
cmp_ok(rss_kb() - $brss0, '<', 1024, '... RSS grew by less than 1 MB');
kill 'KILL', $server_pid;
waitpid($server_pid, 0);

$server->close;
undef $server;
done_testing;
