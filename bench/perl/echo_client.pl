#!/usr/bin/perl
# An echo load generator in Perl for the benchmark: --impl tether
# (Tether::Client on AnyEvent), mojo (Mojo::UserAgent) or aews
# (AnyEvent::WebSocket::Client). Keeps --depth text messages of --size bytes
# in flight on each of --connections connections, and prints one JSON line:
# messages echoed per second over --duration seconds (after --warmup), and
# this process's CPU time.
use strict;
use warnings;
use Getopt::Long;
use Time::HiRes ();

$| = 1;
my %o = (connections => 10, depth => 1, size => 32, duration => 5, warmup => 1);
GetOptions(\%o, 'impl=s', 'url=s', 'connections=i', 'depth=i', 'size=i', 'duration=f', 'warmup=f')
  or die "bad options\n";
my $payload = 'x' x $o{size};
my ($counting, $count, $opened) = (0, 0, 0);
my @keep;

sub on_echo { $count++ if $counting }

my ($run, $stop, $at);
if ($o{impl} eq 'tether' || $o{impl} eq 'aews') {
    require AnyEvent;
    my $done = AE::cv();
    $run  = sub { $done->recv };
    $stop = sub { $done->send };
    $at   = sub { my ($s, $cb) = @_; push @keep, AE::timer($s, 0, $cb) };
}
else {
    $ENV{MOJO_LOG_LEVEL} = 'fatal';
    require Mojo::IOLoop;
    $run  = sub { Mojo::IOLoop->start };
    $stop = sub { Mojo::IOLoop->stop };
    $at   = sub { my ($s, $cb) = @_; Mojo::IOLoop->timer($s => $cb) };
}

for (1 .. $o{connections}) {
    if ($o{impl} eq 'tether') {
        require Tether::Client;
        push @keep, Tether::Client::connect(
            url      => $o{url},
            event    => 'AnyEvent',
            on_ready => sub {
                my ($c) = @_;
                $opened++;
                $c->on_text(sub { $count++ if $counting; $c->send_text($payload) });
                $c->send_text($payload) for 1 .. $o{depth};
            },
        );
    }
    elsif ($o{impl} eq 'aews') {
        require AnyEvent::WebSocket::Client;
        my $client = AnyEvent::WebSocket::Client->new;
        push @keep, $client;
        $client->connect($o{url})->cb(sub {
            my $conn = eval { $_[0]->recv } or die "connect: $@";
            push @keep, $conn;
            $opened++;
            $conn->on(each_message => sub { $count++ if $counting; $conn->send($payload) });
            $conn->send($payload) for 1 .. $o{depth};
        });
    }
    elsif ($o{impl} eq 'mojo') {
        require Mojo::UserAgent;
        my $ua = Mojo::UserAgent->new(inactivity_timeout => 300);
        push @keep, $ua;
        $ua->websocket($o{url} => sub {
            my ($ua, $tx) = @_;
            die "handshake failed\n" unless $tx->is_websocket;
            push @keep, $tx;
            $opened++;
            $tx->on(message => sub { $count++ if $counting; $tx->send($payload) });
            $tx->send($payload) for 1 .. $o{depth};
        });
    }
    else {
        die "--impl tether|mojo|aews\n";
    }
}

my ($t0, @cpu0);
$at->($o{warmup}, sub { $counting = 1; $t0 = Time::HiRes::time(); @cpu0 = times });
$at->($o{warmup} + $o{duration}, sub {
    $counting = 0;
    my $secs = Time::HiRes::time() - $t0;
    my @cpu1 = times;
    my $cpu = ($cpu1[0] - $cpu0[0]) + ($cpu1[1] - $cpu0[1]);
    printf qq({"impl":"%s","connections":%d,"open":%d,"depth":%d,"size":%d,"messages":%d,)
      . qq("seconds":%.3f,"messages_per_s":%.1f,"cpu_s":%.3f,"cpu_us_per_msg":%.2f}\n),
      $o{impl}, $o{connections}, $opened, $o{depth}, $o{size}, $count, $secs, $count / $secs, $cpu,
      $count ? $cpu / $count * 1e6 : 0;
    $stop->();
});
$run->();
require POSIX;
POSIX::_exit(0);    # skip tearing down thousands of objects
