use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Mojo::IOLoop;
use LoopTests qw(run_all);

run_all('Mojolicious');
done_testing;
