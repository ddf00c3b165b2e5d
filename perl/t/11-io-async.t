use strict;
use warnings;
use lib 't/lib';
use Test::More;
use IO::Async::Loop;
use LoopTests qw(run_all);

run_all('IO::Async');
done_testing;
