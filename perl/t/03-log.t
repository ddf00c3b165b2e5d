# Log levels and the log callback (a C trampoline calling Perl).
use strict;
use warnings;
use Test::More;
use AnyEvent;
use Tether qw(:log);
use Tether::Client;
use Tether::Server;

sub one_connection {
    my $server_done = AE::cv();
    my $server = Tether::Server->new(
        event         => 'AnyEvent',
        on_connection => sub { $_[0]->close; $_[0]->done->cb(sub { $server_done->send }) },
    );
    my $cv = Tether::Client::connect(url => $server->url, event => 'AnyEvent');
    my $t = AE::timer(10, 0, sub { $cv->croak('timeout'); $server_done->send });
    eval { $cv->recv };
    $server_done->recv;
    $server->close;
}

my @lines;
Tether::set_log_callback(sub { push @lines, [@_] });
Tether::set_log_level(LOG_NOTICE);
one_connection();
ok(scalar @lines, 'lines at LOG_NOTICE: ' . scalar @lines);
ok(!(grep { $_->[0] > LOG_NOTICE } @lines), 'none above the level');
like(join("\n", map { $_->[1] } @lines), qr/open/, 'connections opened are reported');

# A request that is not an upgrade is answered by the library (HTTP 400)
# and logged at LOG_INFO.
sub junk_request {
    require IO::Socket::INET;
    my $server = Tether::Server->new(event => 'AnyEvent', on_connection => sub { });
    my $s = IO::Socket::INET->new('127.0.0.1:' . $server->port) or die;
    syswrite $s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    my $cv = AE::cv();
    my $w = AE::io($s, 0, sub { sysread($s, my $buf, 4096) or $cv->send });
    my $t = AE::timer(5, 0, sub { $cv->send });
    $cv->recv;
    $server->close;
}
@lines = ();
junk_request();
ok(!(grep { $_->[1] =~ /refused/ } @lines), 'a refused request is not reported at LOG_NOTICE');
@lines = ();
Tether::set_log_level(LOG_DEBUG);
junk_request();
ok((grep { $_->[0] == LOG_INFO && $_->[1] =~ /refused/ } @lines), '... but at LOG_INFO and above');

@lines = ();
Tether::set_log_level(LOG_NONE);
one_connection();
is(scalar @lines, 0, 'nothing at LOG_NONE');

my @warnings;
{
    local $SIG{__WARN__} = sub { push @warnings, $_[0] };
    Tether::set_log_level(LOG_NOTICE);
    Tether::set_log_callback(sub { die "logger broke\n" });
    one_connection();
}
like($warnings[0] // '', qr/log callback died: logger broke/, 'a dying callback becomes a warning');

# Replacing the callback releases the old one.
my $destroyed = 0;
{
    package Guard;
    sub new { bless {}, shift }
    sub DESTROY { $destroyed++ }
}
{
    my $g = Guard->new;
    Tether::set_log_callback(sub { $g; });
}
is($destroyed, 0, 'the library holds the code ref');
Tether::set_log_callback(undef);
is($destroyed, 1, '... until it is replaced');
Tether::set_log_level(LOG_NONE);

done_testing;
