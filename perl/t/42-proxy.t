# proxy => URL through the real proxies from Debian, started here on
# loopback: tinyproxy (HTTP CONNECT, Basic credentials) and microsocks
# (SOCKS5 with username/password); refusals are Tether::X::Proxy with the
# proxy's answer; proxy => 'env' reads the environment as curl does.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp ();
use IO::Socket::INET;
use Time::HiRes ();
use Tether::Blocking::Client;
use TetherTest qw(start_tether_serve with_timeout);

my $tinyproxy  = _which('tinyproxy')  or BAIL_OUT('tinyproxy missing (scripts/test_perl.sh installs it)');
my $microsocks = _which('microsocks') or BAIL_OUT('microsocks missing (scripts/test_perl.sh installs it)');
my $dir = File::Temp->newdir;
my @pids;
END { kill 'TERM', @pids if @pids }

sub _which {
    for my $d (split /:/, $ENV{PATH}) { return "$d/$_[0]" if -x "$d/$_[0]" }
    return;
}

sub _free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0) or die $!;
    return $s->sockport;
}

# Starts a proxy (argv made for a port) on a free port; returns (port, log file).
sub _start {
    my ($make) = @_;
    for (1 .. 5) {
        my $port = _free_port();
        my $log  = "$dir/proxy-$port.log";
        my $pid  = fork // die "fork: $!";
        if (!$pid) {
            open STDOUT, '>', $log or die $!;
            open STDERR, '>&', \*STDOUT or die $!;
            exec @{ $make->($port) } or exit 127;
        }
        push @pids, $pid;
        for (1 .. 200) {
            return ($port, $log)
              if IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 1);
            Time::HiRes::sleep(0.05);
        }
        kill 'TERM', $pid;
    }
    die 'the proxy would not start';
}

sub _slurp { open my $f, '<', $_[0] or return ''; local $/; return scalar <$f> }

my ($hport, $hlog) = _start(sub {
    my $conf = "$dir/tp-$_[0].conf";
    open my $f, '>', $conf or die $!;
    print {$f} "Port $_[0]\nListen 127.0.0.1\nAllow 127.0.0.1\nLogLevel Connect\n"
      . "DisableViaHeader Yes\nBasicAuth alice s3cret\n";
    close $f;
    [ $tinyproxy, '-d', '-c', $conf ];
});
my ($sport, $slog) = _start(sub { [ $microsocks, '-i', '127.0.0.1', '-p', $_[0], '-u', 'bob', '-P', 'pa55' ] });
my $serve = start_tether_serve();
my $target = 'ws://localhost:' . $serve->port . '/';

sub _echo {
    my (%o) = @_;
    my $ws = Tether::Blocking::Client->connect(url => $target, timeout => 10, %o);
    $ws->send_text('through');
    my $got = $ws->recv(10);
    $ws->close;
    return $got;
}

with_timeout(60, sub {
    is(_echo(proxy => "http://alice:s3cret\@127.0.0.1:$hport"), 'through', 'HTTP CONNECT with Basic');
    like(_slurp($hlog), qr/CONNECT localhost:${\ $serve->port} HTTP\/1\.1/, '... asked the proxy');
    is(_echo(proxy => "socks5h://bob:pa55\@127.0.0.1:$sport"), 'through', 'SOCKS5 with credentials');
    like(_slurp($slog), qr/connected to localhost:${\ $serve->port}/, '... the proxy resolved the name');

    my $dead = _free_port();
    my @refusals = (
        [ "http://127.0.0.1:$hport", $target, 'HTTP 407 Proxy Authentication Required from the proxy' ],
        [ "socks5h://bob:nope\@127.0.0.1:$sport", $target, 'SOCKS5 proxy: username/password refused' ],
        [ "socks5h://bob:pa55\@127.0.0.1:$sport", "ws://127.0.0.1:$dead/",
          'SOCKS5 proxy: connection refused (reply 5)' ],
    );
    for my $r (@refusals) {
        my ($proxy, $url, $why) = @$r;
        eval { Tether::Blocking::Client->connect(url => $url, timeout => 10, proxy => $proxy) };
        isa_ok($@, 'Tether::X::Proxy', $why);
        is($@ && $@->message, $why, '... with the proxy\'s answer');
        isa_ok($@, 'Tether::X::Handshake', '... a handshake failure');
    }

    eval { Tether::Blocking::Client->connect(url => $target, proxy => 'https://p:1') };
    like("$@", qr/only http:\/\/, socks5:\/\/ and socks5h:\/\//, 'https:// proxies are refused');
    isa_ok($@, 'Tether::X::Usage');

    local $ENV{https_proxy};
    local $ENV{HTTPS_PROXY};
    local $ENV{no_proxy};
    local $ENV{NO_PROXY};
    local $ENV{ALL_PROXY};
    local $ENV{all_proxy} = "socks5h://bob:pa55\@127.0.0.1:$sport";
    local $ENV{http_proxy} = "http://127.0.0.1:$dead"; # lower case wins for ws://
    eval { Tether::Blocking::Client->connect(url => $target, timeout => 10, proxy => 'env') };
    isa_ok($@, 'Tether::X::Connect', 'proxy => env takes http_proxy for ws://');
    like("$@", qr/connection refused \(127\.0\.0\.1:$dead\)/, '... and says why');
    delete $ENV{http_proxy};
    is(_echo(proxy => 'env'), 'through', '... all_proxy when http_proxy is unset');
    local $ENV{http_proxy} = "http://127.0.0.1:$dead";
    is(_echo(), 'through', 'without proxy => env the environment is not read');
});

done_testing;
