use strict;
use warnings;
use lib 't/lib';
use Test::More;
use AnyEvent;
use LoopTests qw(run_all);

run_all('AnyEvent');
done_testing;
