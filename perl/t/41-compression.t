# permessage-deflate on live connections.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use AnyEvent;
use Tether qw(HAS_PMD);
use Tether::Blocking::Client;
use Tether::Client;
use Tether::Deflate;
use Tether::Frame;
use Tether::Server;
use LoopTests qw(settle);
use TetherTest qw(start_tether_serve fake_server with_timeout);

plan skip_all => 'this library has no permessage-deflate' unless HAS_PMD;

my $text = join ' ', map { "word$_ caf\x{e9}" } 1 .. 100_000;
my $random = join '', map { chr int rand 256 } 1 .. 100_000;

subtest 'against tether serve --deflate' => sub {
    my $serve = start_tether_serve('--deflate');
    with_timeout(30, sub {
        my $ws = Tether::Blocking::Client->connect(url => $serve->url, compression => 1);
        like($ws->extensions, qr/^permessage-deflate/, 'negotiated: ' . $ws->extensions);
        $ws->send_text($text);
        ok($ws->recv eq $text, length($text) . ' characters of compressible text');
        $ws->send_binary($random);
        ok($ws->recv eq $random, '100 kB of incompressible bytes');
        $ws->send_text('tiny');
        is($ws->recv, 'tiny', 'a message under the threshold');
        $ws->close;

        my $plain = Tether::Blocking::Client->connect(url => $serve->url);
        is($plain->extensions, undef, 'no compression unless asked for');
        $plain->close;
    });
    $serve->stop;
};

subtest 'Tether::Server and Tether::Client' => sub {
    my @server_ext;
    my $server = Tether::Server->new(
        event         => 'AnyEvent',
        compression   => { window_bits => [ 10, 11 ], level => 9 },
        on_connection => sub {
            my ($c) = @_;
            push @server_ext, $c->extensions;
            $c->on_text(sub { $c->send_text($_[0]) });
        },
    );
    for my $case (
        [ 'defaults'              => 1, qr/^permessage-deflate/ ],
        [ 'no context takeover'   => { no_context_takeover => [ 1, 1 ] },
          qr/^permessage-deflate.*; server_no_context_takeover/ ],
        [ 'off on the client'     => 0, undef ],
      )
    {
        my ($name, $compression, $want) = @$case;
        my ($ext, $got);
        my $done = Tether::Client::connect(
            url         => $server->url,
            event       => 'AnyEvent',
            compression => $compression,
            on_ready    => sub {
                my ($c) = @_;
                $ext = $c->extensions;
                $c->on_text(sub { $got = $_[0]; $c->close });
                $c->send_text($text);
            },
        );
        my ($ok, $v) = settle('AnyEvent', $done, 20);
        ok($ok, "$name: closed normally") or diag "$v";
        ok(defined $got && $got eq $text, "$name: echoed");
        if ($want) {
            like($ext // '', $want, "$name: $ext");
            like($ext // '', qr/server_max_window_bits=10/, "$name: the server's window limit");
        }
        else {
            is($ext, undef, "$name: not negotiated");
        }
    }
    $server->close;
};

subtest 'bad compressed input' => sub {
    my $bomb_case = sub {
        my ($payload, %client) = @_;
        my ($url, $pid) = fake_server(sub {
            my ($s, $left, $pmd) = @_;
            syswrite $s, Tether::Frame->new(type => 'binary', rsv => 4, payload => $payload->($pmd))
              ->to_bytes('server');
            TetherTest::read_until($s, sub { 0 }, 2);
        }, deflate => Tether::Deflate->new(role => 'server'));
        my $err;
        with_timeout(15, sub {
            my $ws = Tether::Blocking::Client->connect(url => $url, compression => 1, timeout => 5, %client);
            eval { 1 while defined $ws->recv };
            $err = $@;
        });
        kill 'KILL', $pid;
        waitpid($pid, 0);
        return $err;
    };
    my $err = $bomb_case->(sub { $_[0]->compress("\0" x 10_000_000) }, max_message => 100_000);
    isa_ok($err, 'Tether::X::Protocol', '10 MB of zeros against a 100 kB limit');
    is(ref $err && $err->close_code, 1009, '... 1009');
    $err = $bomb_case->(sub { "\xff\xfe\xfd garbage" });
    is(ref $err && $err->close_code, 1007, 'corrupt deflate data: 1007');
};

done_testing;
