# Tether::Connection, the C engine without I/O: two engines talking in
# memory, frames written by Tether::Frame for what a conforming peer never
# sends, deflate, keepalive and the closing handshake, input split anywhere.
use strict;
use warnings;
use utf8;
use Test::More;

use Tether::Connection;
use Tether::Deflate;
use Tether::Frame;

sub pass_bytes {    # a's output into b, in pieces of $step bytes
    my ($a, $b, $step, $now) = @_;
    my $bytes = $a->data_to_send;
    $b->receive_data($_, $now // 1) for unpack "(a$step)*", $bytes;
    return length $bytes;
}

{
    my $c = Tether::Connection->new(role => 'client', now => 0);
    my $s = Tether::Connection->new(role => 'server', now => 0);
    $c->send_text('héllo');
    $c->send_binary("\x00\xff" x 1000);
    ok pass_bytes($c, $s, 3) > 2000, 'the client queued both messages';
    my @ev = $s->events;
    is_deeply [ map { $_->{type} } @ev ], [qw(message message)], 'two messages';
    is $ev[0]{data}, 'héllo', 'text arrives as characters';
    ok $ev[0]{text} && !$ev[1]{text}, 'text and binary told apart';
    is $ev[1]{data}, "\x00\xff" x 1000, 'binary arrives as bytes';
    $s->send_text($ev[0]{data});
    pass_bytes($s, $c, 1);
    my ($echo) = $c->events;
    is $echo->{data}, 'héllo', 'echo, byte by byte';

    $c->ping('p');
    pass_bytes($c, $s, 1);
    is_deeply [ $s->events ], [ { type => 'ping', data => 'p' } ], 'ping event';
    pass_bytes($s, $c, 1);
    is_deeply [ $c->events ], [ { type => 'pong', data => 'p' } ], 'answered by the engine';

    $c->close(4000, 'bye', 0);
    is $c->state, 'closing', 'closing after close()';
    eval { $c->send_text('late') };
    isa_ok $@, 'Tether::X::NotOpen', 'a send while closing';
    pass_bytes($c, $s, 2);
    my ($end) = $s->events;
    is_deeply $end, { type => 'closed', code => 4000, reason => 'bye', clean => 1, error => 0 },
      'the server sees the close';
    pass_bytes($s, $c, 2);
    ($end) = $c->events;
    ok $end->{clean} && $end->{code} == 4000, 'the client sees the echo';
    is $c->state, 'closed', 'closed';
}

{    # a frame with RSV2: 1002 after the message before it, and the close frame out
    my $s = Tether::Connection->new(role => 'server', now => 0);
    $s->receive_data(Tether::Frame->text('ok')->to_bytes('client')
          . Tether::Frame->new(type => 'text', payload => 'x', rsv => 2)->to_bytes('client'));
    my @ev = $s->events;
    is $ev[0]{data}, 'ok', 'the message first';
    is $ev[1]{type}, 'closed', 'then the end';
    is $ev[1]{code}, 1002, 'with 1002';
    ok !$ev[1]{clean}, 'not clean';
    my $c = Tether::Connection->new(role => 'client', now => 0);
    pass_bytes($s, $c, 4);
    is(($c->events)[0]{code}, 1002, 'the close frame went out with 1002');
}

{    # deflate
    my $cd = Tether::Deflate->new(role => 'client');
    my $sd = Tether::Deflate->new(role => 'server');
    $cd->accept($sd->negotiate($cd->offer));
    my $c = Tether::Connection->new(role => 'client', deflate => $cd, now => 0);
    my $s = Tether::Connection->new(role => 'server', deflate => $sd, now => 0);
    $c->send_text('z' x 10000);
    ok pass_bytes($c, $s, 7) < 200, 'compressed on the wire';
    is(($s->events)[0]{data}, 'z' x 10000, 'inflated whole');
}

{    # keepalive
    my $s = Tether::Connection->new(role => 'server', ping_interval => 1, ping_timeout => 0.5,
        now => 0);
    is $s->deadline, 1, 'first ping due after a second of quiet';
    $s->on_time(1);
    my $c = Tether::Connection->new(role => 'client', now => 0);
    pass_bytes($s, $c, 100);
    is(($c->events)[0]{type}, 'ping', 'the ping went out');
    $s->on_time(1.5);
    my ($end) = $s->events;
    is_deeply [ @$end{qw(type code reason)} ], [ 'closed', 1011, 'keepalive timeout' ],
      'no answer: 1011';
}

{    # the send limit
    my $s = Tether::Connection->new(role => 'server', send_limit => 10_000, now => 0);
    $s->send_binary('x' x 6000);
    eval { $s->send_binary('x' x 6000) };
    isa_ok $@, 'Tether::X::Backpressure', 'past the send limit';
    ok length($s->data_to_send) > 6000, 'the queued bytes';
    ok eval { $s->send_binary('x' x 6000); 1 }, 'room again once they were taken';
}

{    # the stream's end, and bad calls
    my $s = Tether::Connection->new(role => 'server', now => 0);
    $s->receive_eof;
    my ($end) = $s->events;
    is $end->{code}, 1006, 'EOF: 1006';
    eval { Tether::Connection->new(role => 'server', origin => 'x') };
    like $@, qr/unknown option/, 'unknown option refused';
    eval { Tether::Connection->new(role => 'server')->receive_data("\x{100}") };
    like $@, qr/bytes/, 'characters refused as input';
}

done_testing;
