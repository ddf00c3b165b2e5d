# wss://: certificates made at test time by tests/certs/make_certs.sh.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use AnyEvent;
use Tether qw(:tls HAS_TLS HAS_PMD);
use Tether::Blocking::Client;
use Tether::Client;
use Tether::Server;
use LoopTests qw(settle);
use TetherTest qw(start_tether_serve make_certs with_timeout);

plan skip_all => 'this library has no TLS' unless HAS_TLS;
my $d = make_certs();

sub blocking {
    my (%a) = @_;
    return with_timeout(20, sub {
        my $ws = eval { Tether::Blocking::Client->connect(timeout => 10, %a) } or return (undef, $@);
        $ws->send_text("secret \x{263a}");
        my $echo = $ws->recv;
        my $v = $ws->tls_version;
        $ws->close;
        return ($echo, $v);
    });
}

subtest 'client: verification against tether serve' => sub {
    my %serve;
    $serve{$_} = start_tether_serve('--cert', "$d/$_.pem", '--key', "$d/$_.key")
      for qw(server selfsigned wronghost expired);
    my $url = sub { $serve{ $_[0] }->url =~ s{^wss://127\.0\.0\.1}{wss://localhost}r };
    like($serve{server}->url, qr{^wss://}, 'wss URL');

    my ($echo, $v) = blocking(url => $url->('server'), tls => { ca_file => "$d/ca.pem" });
    is($echo, "secret \x{263a}", 'trusted CA: echo over TLS');
    like($v, qr/^TLSv1\.[23]$/, "TLS version $v");
    ($echo) = blocking(url => $serve{server}->url, tls => { ca_file => "$d/ca.pem" });
    is($echo, "secret \x{263a}", 'by IP address (in the certificate)');
    ($echo, my $err) = blocking(url => $url->('server'), tls => { ca_file => "$d/chain.pem" });
    ok(defined $echo, 'a CA file holding a chain');

    ($echo, $err) = blocking(url => $url->('server'));
    isa_ok($err, 'Tether::X::TLSVerify', 'our CA is not in the system store');

    ($echo, $err) = blocking(url => $url->('selfsigned'), tls => { ca_file => "$d/ca.pem" });
    isa_ok($err, 'Tether::X::TLSVerify', 'self-signed');
    like(ref $err ? $err->message : '', qr/self.signed/i, '... says so: ' . (ref $err ? $err->message : $err));
    ($echo) = blocking(url => $url->('selfsigned'), tls => { flags => TLS_ALLOW_SELFSIGNED });
    is($echo, "secret \x{263a}", '... accepted with TLS_ALLOW_SELFSIGNED');

    ($echo, $err) = blocking(url => $url->('wronghost'), tls => { ca_file => "$d/ca.pem" });
    isa_ok($err, 'Tether::X::TLSVerify', 'certificate for another name');
    like(ref $err ? $err->message : '', qr/host ?name|mismatch/i, '... says so');
    ($echo) = blocking(url => $url->('wronghost'),
        tls => { ca_file => "$d/ca.pem", flags => TLS_SKIP_HOSTNAME_CHECK });
    is($echo, "secret \x{263a}", '... accepted with TLS_SKIP_HOSTNAME_CHECK');
    ($echo) = blocking(url => $url->('wronghost'),
        tls => { ca_file => "$d/ca.pem", server_name => 'wrong.example' });
    is($echo, "secret \x{263a}", '... or with server_name');

    ($echo, $err) = blocking(url => $url->('expired'), tls => { ca_file => "$d/ca.pem" });
    isa_ok($err, 'Tether::X::TLSVerify', 'expired');
    like(ref $err ? $err->message : '', qr/expired/i, '... says so');
    ($echo) = blocking(url => $url->('expired'), tls => { ca_file => "$d/ca.pem", flags => TLS_ALLOW_EXPIRED });
    is($echo, "secret \x{263a}", '... accepted with TLS_ALLOW_EXPIRED');

    ($echo) = blocking(url => $url->('selfsigned'), tls => { flags => TLS_INSECURE });
    is($echo, "secret \x{263a}", 'TLS_INSECURE accepts anything');

    # Net::Libwebsockets' form: tls => LCCSCF_* flags ORed together
    ($echo) = blocking(url => $url->('selfsigned'), tls => Tether::LCCSCF_ALLOW_SELFSIGNED());
    is($echo, "secret \x{263a}", 'tls => LCCSCF_ALLOW_SELFSIGNED');
    ($echo, $err) = blocking(url => $url->('wronghost'), tls => Tether::LCCSCF_ALLOW_SELFSIGNED());
    isa_ok($err, 'Tether::X::TLSVerify', '... which still checks the name');
    ($echo) = blocking(url => $url->('wronghost'),
        tls => Tether::LCCSCF_ALLOW_SELFSIGNED() | Tether::LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK());
    is($echo, "secret \x{263a}", '... unless LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK is ORed in');

    ($echo, $err) = blocking(url => $url->('server'), tls => { ca_file => "$d/missing.pem" });
    isa_ok($err, 'Tether::X::TLSConfig', 'a CA file that does not exist');

    my $plain = start_tether_serve();
    ($echo, $err) = blocking(url => $plain->url =~ s/^ws:/wss:/r, tls => { ca_file => "$d/ca.pem" });
    isa_ok($err, 'Tether::X::Base', 'wss:// to a plain server fails');
    ok(!defined $echo, '... without a message');
    ($echo, $err) = blocking(url => $serve{server}->url =~ s/^wss:/ws:/r);
    isa_ok($err, 'Tether::X::Base', 'ws:// to a TLS server fails');

    SKIP: {
        skip 'no permessage-deflate', 2 unless HAS_PMD;
        my $z = start_tether_serve('--cert', "$d/server.pem", '--key', "$d/server.key", '--deflate');
        my $ws = with_timeout(20, sub {
            Tether::Blocking::Client->connect(url => $z->url, tls => { ca_file => "$d/ca.pem" },
                compression => 1, timeout => 10)
        });
        like($ws->extensions, qr/permessage-deflate/, 'compression over TLS');
        my $big = 'tls+deflate ' x 50_000;
        $ws->send_text($big);
        ok($ws->recv eq $big, '... 600 kB echoed');
        $ws->close;
    }
    $_->stop for values %serve;
};

subtest 'server: certificates, client certificates, SNI' => sub {
    my $server = Tether::Server->new(
        event => 'AnyEvent',
        tls   => {
            cert_file => "$d/server.pem",
            key_file  => "$d/server.key",
            ca_file   => "$d/ca.pem",
            verify_client => 2,
            sni => { 'a.test' => [ "$d/sni-a.pem", "$d/sni-a.key" ] },
        },
        on_connection => sub {
            my ($c) = @_;
            $c->on_text(sub { $c->send_text($c->tls_version . ' ' . $_[0]) });
        },
    );
    like($server->url, qr{^wss://127\.0\.0\.1:\d+/$}, 'a TLS server says wss://');
    my $try = sub {
        my (%tls) = @_;
        my $got;
        my $done = Tether::Client::connect(
            url      => $server->url,
            event    => 'AnyEvent',
            tls      => { ca_file => "$d/ca.pem", %tls },
            on_ready => sub {
                my ($c) = @_;
                $c->on_text(sub { $got = $_[0]; $c->close });
                $c->send_text('hi');
            },
        );
        my ($ok, $v) = settle('AnyEvent', $done);
        return $ok ? $got : $v;
    };
    like($try->(cert_file => "$d/client.pem", key_file => "$d/client.key"), qr/^TLSv1\.[23] hi$/,
        'with a client certificate');
    isa_ok($try->(), 'Tether::X::Base', 'without a client certificate');
    isa_ok($try->(cert_file => "$d/rogue-client.pem", key_file => "$d/rogue-client.key"),
        'Tether::X::Base', 'with a certificate from an unknown CA');
    like($try->(cert_file => "$d/client.pem", key_file => "$d/client.key", server_name => 'a.test'),
        qr/ hi$/, 'SNI a.test gets the a.test certificate (verified for that name)');
    isa_ok($try->(cert_file => "$d/client.pem", key_file => "$d/client.key", server_name => 'b.test'),
        'Tether::X::TLSVerify', 'SNI b.test gets the main certificate, which is not for b.test');
    $server->close;

    eval {
        Tether::Server->new(event => 'AnyEvent', on_connection => sub { },
            tls => { cert_file => "$d/nope.pem", key_file => "$d/nope.key" });
    };
    isa_ok($@, 'Tether::X::TLSConfig', 'a server certificate that does not exist');
    eval {
        Tether::Server->new(event => 'AnyEvent', on_connection => sub { },
            tls => { cert_file => "$d/server.pem", key_file => "$d/client.key" });
    };
    isa_ok($@, 'Tether::X::TLSConfig', 'a key that does not match');
};

subtest 'blocking server with TLS' => sub {
    require Tether::Blocking::Server;
    my $server = Tether::Blocking::Server->new(
        tls => { cert_file => "$d/chain.pem", key_file => "$d/server.key" });
    my $pid = fork // die;
    if (!$pid) {
        my $ok = eval {
            my $ws = Tether::Blocking::Client->connect(url => $server->url, tls => { ca_file => "$d/ca.pem" },
                timeout => 10);
            $ws->send_binary("\x00" x 100_000);
            $ws->recv eq "\x00" x 100_000 or die;
            $ws->close;
            1;
        };
        POSIX::_exit($ok ? 0 : 1);
    }
    with_timeout(20, sub {
        my $ws = $server->accept(10);
        ok($ws && $ws->tls_version, 'accepted over TLS');
        $ws->send_binary(scalar $ws->recv);
        is($ws->recv, undef, 'the client closed normally');
    });
    waitpid($pid, 0);
    is($? >> 8, 0, 'the client got its echo');
};

subtest 'WebSocket over HTTP/2 (RFC 8441) when the client asks' => sub {
    my $h2 = start_tether_serve('-v', '--cert', "$d/server.pem", '--key', "$d/server.key");
    my $h1 = start_tether_serve('--no-http2', '--cert', "$d/server.pem", '--key', "$d/server.key");
    for ([$h2, 1, 'a server with HTTP/2: stream 1'], [$h1, 0, 'an HTTP/1.1 server: HTTP/1.1']) {
        my ($srv, $stream, $what) = @$_;
        my @got = with_timeout(20, sub {
            my $ws = Tether::Blocking::Client->connect(timeout => 10, url => $srv->url,
                tls => { ca_file => "$d/ca.pem" }, http2 => 1);
            $ws->send_text('over h2?');
            my $echo = $ws->recv;
            my $s = $ws->http2_stream;
            $ws->close;
            return ($echo, $s);
        });
        is($got[0], 'over h2?', "echo: $what");
        is($got[1], $stream, "http2_stream: $what");
    }
};

done_testing;
