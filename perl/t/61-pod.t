use strict;
use warnings;
use Test::More;
use File::Find;

eval { require Test::Pod; Test::Pod->VERSION(1.22); 1 }
  or plan skip_all => 'Test::Pod 1.22 needed';
my $lib = -d 'blib/lib' ? 'blib/lib' : 'lib';
my @files;
find(sub { push @files, $File::Find::name if /\.pm$/ }, $lib);
for my $f (sort @files) {
    Test::Pod::pod_file_ok($f, "$f: POD is valid");
    open my $fh, '<', $f or die;
    my $pod = do { local $/; <$fh> };
    like($pod, qr/^=head1 NAME\n\n\S+ - \S/m, "$f: NAME");
    like($pod, qr/^=head1 DESCRIPTION/m, "$f: DESCRIPTION");
}
done_testing;
