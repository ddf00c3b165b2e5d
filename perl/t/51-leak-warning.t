# The leak aid: objects alive at global destruction say so.
use strict;
use warnings;
use Test::More;
use IPC::Open3;

my @inc = map { "-I$_" } (-d 'blib' ? ('blib/lib', 'blib/arch') : ('lib'));

sub run_perl {
    my ($code) = @_;
    my $pid = open3(my $in, my $out, undef, $^X, @inc, '-e', $code);
    close $in;
    local $/;
    my $output = <$out>;
    waitpid($pid, 0);
    return $output // '';
}

my $out = run_perl(q{
    use AnyEvent; use Tether::Server;
    our $server = Tether::Server->new(event => 'AnyEvent', on_connection => sub { });
});
like($out, qr/Tether::Server destroyed at global destruction/, 'a server kept in a global warns');

$out = run_perl(q{
    use AnyEvent; use Tether::Server;
    my $server = Tether::Server->new(event => 'AnyEvent', on_connection => sub { });
    $server->{cycle} = $server;    # a leak
});
like($out, qr/Tether::Server destroyed at global destruction/, 'a server in a cycle warns');
like($out, qr/Tether::Context destroyed at global destruction/, '... and its context');

$out = run_perl(q{
    use Tether::Parser;
    our $p = Tether::Parser->new(role => 'client');
});
like($out, qr/Tether::Parser destroyed at global destruction/, 'a parser in a global warns');

$out = run_perl(q{
    use AnyEvent; use Tether::Server; use Tether::Parser;
    { my $server = Tether::Server->new(event => 'AnyEvent', on_connection => sub { }); }
    my $p = Tether::Parser->new(role => 'client');
    undef $p;
    print "clean\n";
});
is($out, "clean\n", 'objects freed in time say nothing');

done_testing;
