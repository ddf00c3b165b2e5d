package TetherTest;

# Helpers for the tests: find the `tether` tool and the repository's
# certificate script, start `tether serve` on a free loopback port, bound
# every wait.

use strict;
use warnings;

use Exporter 'import';
use File::Spec;
use File::Temp ();
use POSIX ();
use Test::More ();
use Time::HiRes ();

our @EXPORT_OK = qw(tether_tool start_tether_serve make_certs with_timeout rss_kb fd_count
  source_dir fake_server);

# The repository: TETHER_SOURCE_DIR, or the perl/ directory's parent, or the
# source directory of TETHER_BUILD_DIR.
sub source_dir {
    return $ENV{TETHER_SOURCE_DIR} if $ENV{TETHER_SOURCE_DIR};
    for my $d ('..', '../..') {
        return File::Spec->rel2abs($d) if -e "$d/include/tether.h";
    }
    if (my $b = $ENV{TETHER_BUILD_DIR}) {
        if (open my $fh, '<', "$b/CMakeCache.txt") {
            while (<$fh>) { return $1 if /^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$/ }
        }
    }
    return undef;
}

# The tether command: TETHER_TOOL, TETHER_BUILD_DIR/tools/tether, or PATH.
sub tether_tool {
    return $ENV{TETHER_TOOL} if $ENV{TETHER_TOOL} && -x $ENV{TETHER_TOOL};
    if (my $b = $ENV{TETHER_BUILD_DIR}) {
        return "$b/tools/tether" if -x "$b/tools/tether";
    }
    for my $d (split /:/, $ENV{PATH} // '') {
        return "$d/tether" if -x "$d/tether";
    }
    return undef;
}

package TetherTest::Serve {
    sub url  { $_[0]{url} }
    sub port { $_[0]{port} }
    sub pid  { $_[0]{pid} }
    sub stop {
        my ($self) = @_;
        my $pid = delete $self->{pid} or return;
        kill 'TERM', $pid;
        my $deadline = Time::HiRes::time() + 5;
        while (Time::HiRes::time() < $deadline) {
            # -1: already reaped (an event loop such as EV reaps children).
            return if waitpid($pid, POSIX::WNOHANG()) != 0;
            Time::HiRes::sleep(0.02);
        }
        kill 'KILL', $pid;
        waitpid($pid, POSIX::WNOHANG());
    }
    sub DESTROY { $_[0]->stop }
}

# Starts `tether serve ARGS` and waits (at most 10 s) for its
# "listening on HOST:PORT" line. Skips the whole test file if the tool is
# missing.
sub start_tether_serve {
    my (@args) = @_;
    my $tool = tether_tool()
      or Test::More::plan(skip_all => 'the tether tool was not found (set TETHER_BUILD_DIR)');
    my $scheme = (grep { $_ eq '--cert' } @args) ? 'wss' : 'ws';
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $r;
        open STDOUT, '>&', $w or POSIX::_exit(127);
        open STDIN, '<', '/dev/null';
        { exec $tool, 'serve', '--host', '127.0.0.1', '--port', '0', @args }
        POSIX::_exit(127);
    }
    close $w;
    my $line = '';
    my $rin = '';
    vec($rin, fileno($r), 1) = 1;
    my $deadline = Time::HiRes::time() + 10;
    while ($line !~ /\n/) {
        my $left = $deadline - Time::HiRes::time();
        die "tether serve did not start in time\n" if $left <= 0;
        select(my $rout = $rin, undef, undef, $left) or next;
        sysread($r, my $buf, 256) or die "tether serve exited: @args\n";
        $line .= $buf;
    }
    $line =~ /listening on (\S+):(\d+)/ or die "unexpected line from tether serve: $line";
    my ($host, $port) = ($1, $2);
    return bless { pid => $pid, port => $port, url => "$scheme://$host:$port/", out => $r },
      'TetherTest::Serve';
}

# Makes the test PKI with the repository's script into a temporary
# directory; returns the directory (skips the file when it cannot).
my @KEEP;

sub make_certs {
    my $src = source_dir();
    my $script = $src && "$src/tests/certs/make_certs.sh";
    Test::More::plan(skip_all => 'tests/certs/make_certs.sh not found (set TETHER_SOURCE_DIR)')
      unless $script && -e $script;
    my $dir = File::Temp->newdir('tether-certs-XXXXXX', TMPDIR => 1);
    push @KEEP, $dir;
    my $out = `bash '$script' '$dir' 2>&1`;
    die "make_certs.sh failed: $out" if $?;
    return "$dir";
}

# Dies if $code does not return within $seconds.
sub with_timeout {
    my ($seconds, $code) = @_;
    local $SIG{ALRM} = sub { die "timed out after $seconds s\n" };
    alarm $seconds;
    my @r = eval { $code->() };
    my $err = $@;
    alarm 0;
    die $err if $err;
    return wantarray ? @r : $r[0];
}

# A scripted WebSocket server in a child process, for the paths a good
# server never takes: it accepts one connection, answers the upgrade with
# Tether::Handshake::Server (unless $opts{raw}; negotiating
# permessage-deflate with $opts{deflate}, a Tether::Deflate), then runs
# $script->($socket, $leftover, $deflate). Returns ($url, $pid); the child exits on
# its own within $opts{life} seconds (default 15).
sub fake_server {
    my ($script, %opts) = @_;
    require IO::Socket::INET;
    my $listen = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 5, ReuseAddr => 1, Proto => 'tcp')
      or die "listen: $!";
    my $port = $listen->sockport;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        alarm($opts{life} // 15);
        my $ok = eval {
            my $sock = $listen->accept or die "accept: $!";
            my $leftover = '';
            if (!$opts{raw}) {
                require Tether::Handshake::Server;
                my $hs = Tether::Handshake::Server->new(deflate => $opts{deflate});
                while (1) {
                    my $n = sysread($sock, my $buf, 4096);
                    die "peer left during the handshake" unless $n;
                    last if $hs->parse($buf);
                }
                $opts{on_request}->($hs) if $opts{on_request};
                syswrite($sock, $hs->accept);
                $leftover = $hs->leftover;
                undef $hs;
            }
            $script->($sock, $leftover, $opts{deflate});
            1;
        };
        POSIX::_exit($ok ? 0 : 1);
    }
    close $listen;
    return ("ws://127.0.0.1:$port/", $pid);
}

# Reads from $sock until $want->($buffer) is true or $seconds pass; returns
# the buffer.
sub read_until {
    my ($sock, $want, $seconds) = @_;
    my $buf = '';
    my $deadline = Time::HiRes::time() + ($seconds // 5);
    my $rin = '';
    vec($rin, fileno($sock), 1) = 1;
    until ($want->($buf)) {
        my $left = $deadline - Time::HiRes::time();
        last if $left <= 0;
        select(my $rout = $rin, undef, undef, $left) or next;
        my $n = sysread($sock, $buf, 65536, length $buf);
        last unless $n;
    }
    return $buf;
}

sub rss_kb {
    open my $fh, '<', '/proc/self/status' or return 0;
    while (<$fh>) { return $1 if /^VmRSS:\s+(\d+)/ }
    return 0;
}

sub fd_count {
    opendir my $d, '/proc/self/fd' or return 0;
    return scalar grep { /^\d+$/ } readdir $d;
}

1;
