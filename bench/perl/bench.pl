#!/usr/bin/perl
# Runs the Perl echo benchmark (see run.sh) and prints the tables.
use strict;
use warnings;
use Getopt::Long;
use JSON::PP ();
use POSIX ();
use Time::HiRes ();

GetOptions('tool=s' => \my $tool, 'seconds=f' => \my $secs, 'dir=s' => \my $dir) or die;
my $tick = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
my $warmup = 1;
my @loads = ([ 10, 1 ], [ 50, 8 ]);    # connections, messages in flight on each

sub cpu_of {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my @f = split ' ', (<$fh> =~ s/^.*\) //r);
    return ($f[11] + $f[12]) / $tick;
}

my %running;
END { kill 'KILL', keys %running if %running }

sub start_server {
    my (@cmd) = @_;
    pipe(my $r, my $w) or die;
    my $pid = fork // die;
    if (!$pid) {
        open STDOUT, '>&', $w;
        open STDIN, '<', '/dev/null';
        exec 'taskset', '-c', '0', @cmd or POSIX::_exit(127);
    }
    close $w;
    $running{$pid} = 1;
    my $line = <$r>;
    die "server did not start: @cmd\n" unless $line && $line =~ /listening on (\S+):(\d+)/;
    return { pid => $pid, url => "ws://$1:$2/", out => $r };
}

sub stop_server {
    my ($s) = @_;
    kill 'TERM', $s->{pid};
    my $deadline = Time::HiRes::time() + 5;
    until (waitpid($s->{pid}, POSIX::WNOHANG()) || Time::HiRes::time() > $deadline) {
        Time::HiRes::sleep(0.05);
    }
    kill 'KILL', $s->{pid};
    waitpid($s->{pid}, 0);
    delete $running{ $s->{pid} };
}

sub run_json {
    my (@cmd) = @_;
    my $out = `taskset -c 1 @cmd`;
    my ($json) = grep { /^\{/ } split /\n/, $out;
    die "no result from: @cmd\n$out" unless $json;
    return JSON::PP::decode_json($json);
}

# A Perl server driven by tether bench; its CPU per message from /proc.
sub server_run {
    my ($impl, $c, $d) = @_;
    my $s = start_server($^X, "$dir/echo_server.pl", '--impl', $impl);
    my $cpu0 = cpu_of($s->{pid});
    my $r = run_json($tool, 'bench', $s->{url}, '-c', $c, '-d', $d, '-s', 32,
        '-t', $secs, '-w', $warmup, '--json');
    my $cpu = cpu_of($s->{pid}) - $cpu0;
    stop_server($s);
    my $msgs = $r->{messages_per_s} * ($secs + $warmup);    # warm-up at the same rate
    return { rate => $r->{messages_per_s}, cpu_us => $msgs ? $cpu / $msgs * 1e6 : 0,
        gen_cpu => $r->{cpu_percent} };
}

# A Perl client against a server (tether serve, or a Perl one).
sub client_run {
    my ($impl, $server_cmd, $c, $d) = @_;
    my $s = start_server(@$server_cmd);
    my $r = run_json($^X, "$dir/echo_client.pl", '--impl', $impl, '--url', $s->{url},
        '--connections', $c, '--depth', $d, '--size', 32, '--duration', $secs, '--warmup', $warmup);
    stop_server($s);
    die "$impl: only $r->{open} of $c connections opened\n" if $r->{open} != $c;
    return { rate => $r->{messages_per_s}, cpu_us => $r->{cpu_us_per_msg} };
}

sub fmt { my $n = int($_[0] + 0.5); 1 while $n =~ s/^(\d+)(\d{3})/$1,$2/; $n }
sub ratio { $_[1] ? sprintf('%.2fx', $_[0] / $_[1]) : '-' }
sub ratio_inv { $_[0] ? sprintf('%.2fx', $_[1] / $_[0]) : '-' }

my $cores = `nproc`; chomp $cores;
print "Perl echo benchmark: 32-byte text messages, ${secs} s per run after ${warmup} s of warm-up,\n";
print "server on core 0, client on core 1 ($cores cores). Ratios: Tether / other for messages/s,\n";
print "other / Tether for CPU per message (above 1: Tether is ahead).\n\n";

print "## Servers, driven by the C load generator (tether bench)\n\n";
print "| load | Tether::Server msg/s | Mojolicious msg/s | ratio | Tether CPU/msg | Mojolicious CPU/msg | ratio |\n";
print "|---|---:|---:|---:|---:|---:|---:|\n";
for my $l (@loads) {
    my ($c, $d) = @$l;
    my $t = server_run('tether', $c, $d);
    my $m = server_run('mojo', $c, $d);
    printf "| %d conns x depth %d | %s | %s | %s | %.1f us | %.1f us | %s |\n", $c, $d, fmt($t->{rate}),
      fmt($m->{rate}), ratio($t->{rate}, $m->{rate}), $t->{cpu_us}, $m->{cpu_us},
      ratio_inv($t->{cpu_us}, $m->{cpu_us});
}

print "\n## Clients, against the C echo server (tether serve)\n\n";
print "| load | Tether::Client msg/s | Mojo::UserAgent msg/s | AnyEvent::WebSocket::Client msg/s | ratio Mojo | ratio AE::WS | CPU/msg Tether / Mojo / AE::WS |\n";
print "|---|---:|---:|---:|---:|---:|---:|\n";
my @serve = ($tool, 'serve', '--host', '127.0.0.1', '--port', '0');
for my $l (@loads) {
    my ($c, $d) = @$l;
    my %r = map { $_ => client_run($_, \@serve, $c, $d) } qw(tether mojo aews);
    printf "| %d conns x depth %d | %s | %s | %s | %s | %s | %.1f / %.1f / %.1f us |\n", $c, $d,
      fmt($r{tether}{rate}), fmt($r{mojo}{rate}), fmt($r{aews}{rate}),
      ratio($r{tether}{rate}, $r{mojo}{rate}), ratio($r{tether}{rate}, $r{aews}{rate}),
      $r{tether}{cpu_us}, $r{mojo}{cpu_us}, $r{aews}{cpu_us};
}

print "\n## Perl to Perl: each library's client and server\n\n";
print "| load | Tether -> Tether msg/s | Mojo -> Mojolicious msg/s | AE::WS::Client -> Mojolicious msg/s | ratio Mojo | ratio AE::WS |\n";
print "|---|---:|---:|---:|---:|---:|\n";
for my $l (@loads) {
    my ($c, $d) = @$l;
    my $t = client_run('tether', [ $^X, "$dir/echo_server.pl", '--impl', 'tether' ], $c, $d);
    my $m = client_run('mojo', [ $^X, "$dir/echo_server.pl", '--impl', 'mojo' ], $c, $d);
    my $a = client_run('aews', [ $^X, "$dir/echo_server.pl", '--impl', 'mojo' ], $c, $d);
    printf "| %d conns x depth %d | %s | %s | %s | %s | %s |\n", $c, $d, fmt($t->{rate}),
      fmt($m->{rate}), fmt($a->{rate}), ratio($t->{rate}, $m->{rate}), ratio($t->{rate}, $a->{rate});
}
