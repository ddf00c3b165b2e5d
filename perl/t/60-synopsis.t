# Every module's SYNOPSIS runs. Synopses talk to ws://127.0.0.1:9000/; here
# that address is a live `tether serve`.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Find;
use File::Temp ();
use IPC::Open3;
use Symbol 'gensym';
use Time::HiRes ();
use TetherTest qw(start_tether_serve);

# First: without the tool it skips the whole file, which must come before
# any test ran ("Bad plan" otherwise).
my $serve = start_tether_serve();
my $port = $serve->port;

my $lib = -d 'blib/lib' ? 'blib/lib' : 'lib';
my @modules;
find(sub { push @modules, $File::Find::name if /\.pm$/ }, $lib);
@modules = sort @modules;
ok(@modules >= 20, scalar(@modules) . ' modules');

sub synopsis_of {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    my ($in, @lines) = (0);
    while (<$fh>) {
        if (/^=head1\s+SYNOPSIS/) { $in = 1; next }
        if ($in && /^=/) { last }
        push @lines, $_ if $in;
    }
    return join '', @lines;
}

for my $file (@modules) {
    my $code = synopsis_of($file);
    ok(length $code =~ s/\s//gr, "$file has a SYNOPSIS") or next;
    $code =~ s/^    //mg;
    $code =~ s/\b9000\b/$port/g;
    my $tmp = File::Temp->new(SUFFIX => '.pl');
    print {$tmp} "use strict;\nuse warnings;\n$code\n";
    close $tmp;
    my @inc = map { "-I$_" } (-d 'blib' ? ('blib/lib', 'blib/arch') : ('lib'));
    my $pid = open3(my $in, my $out, undef, $^X, @inc, "$tmp");
    close $in;
    my $deadline = Time::HiRes::time() + 30;
    my $output = '';
    my $rin = '';
    vec($rin, fileno $out, 1) = 1;
    while (Time::HiRes::time() < $deadline) {
        select(my $r = $rin, undef, undef, 0.2) or next;
        sysread($out, $output, 65536, length $output) or last;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    my $status = $?;
    is($status, 0, "$file: SYNOPSIS runs") or diag($output);
    unlike($output, qr/destroyed at global destruction|Tether: .* died/,
        "$file: SYNOPSIS leaves nothing behind") or diag($output);
}

$serve->stop;
done_testing;
