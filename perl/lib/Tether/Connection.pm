package Tether::Connection;

use strict;
use warnings;

use Time::HiRes ();

use Tether::Frame ();
use Tether::Options ();
use Tether::Raw ();
use Tether::X ();

# Options the engine takes (the rest of Tether::Options is about sockets,
# handshakes and TLS).
my %ENGINE = map { $_ => 1 }
  qw(max_message max_frame ping_interval ping_timeout close_timeout idle_timeout send_limit
  drain_mark);

my %TYPE = (
    $Tether::Raw::TETHER_EV_MESSAGE  => 'message',
    $Tether::Raw::TETHER_EV_FRAGMENT => 'fragment',
    $Tether::Raw::TETHER_EV_PING     => 'ping',
    $Tether::Raw::TETHER_EV_PONG     => 'pong',
    $Tether::Raw::TETHER_EV_DRAIN    => 'drain',
    $Tether::Raw::TETHER_EV_CLOSED   => 'closed',
);

sub _ms { int(1000 * ($_[0] // Time::HiRes::clock_gettime(Time::HiRes::CLOCK_MONOTONIC()))) }

sub _check {
    my ($rc) = @_;
    Tether::X::throw_code($rc) if $rc < 0;
    return $rc;
}

sub new {
    my ($class, %a) = @_;
    my $role    = Tether::Frame::role_value(delete $a{role});
    my $deflate = delete $a{deflate};
    my $stream  = delete $a{streaming};
    my $now     = delete $a{now};
    my @unknown = grep { !$ENGINE{$_} } sort keys %a;
    Tether::X::Usage->throw("unknown option(s): @unknown") if @unknown;
    my $o = Tether::Options->build(\%a, $role == $Tether::Raw::TETHER_ROLE_CLIENT ? 'client' : 'server');
    Tether::Raw::tether_opts_set_streaming($o, 1) if $stream;
    my $ws = Tether::Raw::tether_ws_new($role, $o, _ms($now));
    Tether::Raw::tether_opts_free($o);
    $ws or Tether::X::System->throw('tether_ws_new failed');
    my $self = bless { ws => $ws }, $class;
    if ($deflate) {
        Tether::X::Usage->throw('deflate => wants a negotiated Tether::Deflate')
          unless $deflate->enabled;
        _check(Tether::Raw::tether_ws_set_deflate($ws, $deflate->{pmd}));
        delete $deflate->{pmd};    # the engine owns it now, and frees it
    }
    return $self;
}

sub receive_data {
    my ($self, $bytes, $now) = @_;
    utf8::downgrade($bytes, 1)
      or Tether::X::Usage->throw('receive_data() wants bytes: characters above 255 found');
    _check(Tether::Raw::tether_ws_receive($self->{ws}, $bytes, _ms($now)));
    return;
}

sub receive_eof { _check(Tether::Raw::tether_ws_receive_eof($_[0]{ws})); return }

# Every event the input and time so far make, as hash refs:
# { type => 'message', data => ..., text => 1|0 } (text decoded to
# characters), 'fragment' (data as bytes, text, fin), 'ping', 'pong',
# 'drain', and last 'closed' (code, reason, clean, error).
sub events {
    my ($self) = @_;
    my @out;
    while (my $e = Tether::Raw::tether_pl_ws_next($self->{ws})) {
        my ($type, $op, $fin, $data, $code, $clean, $error) = @$e;
        my %ev = (type => $TYPE{$type});
        if ($ev{type} eq 'message' || $ev{type} eq 'fragment') {
            $ev{text} = $op == $Tether::Raw::TETHER_OP_TEXT ? 1 : 0;
            utf8::decode($data) if $ev{text} && $ev{type} eq 'message';
            $ev{data} = $data;
            $ev{fin}  = $fin if $ev{type} eq 'fragment';
        }
        elsif ($ev{type} eq 'closed') {
            utf8::decode($data);
            @ev{qw(code reason clean error)} = ($code, $data, $clean, $error);
        }
        elsif ($ev{type} ne 'drain') {
            $ev{data} = $data;
        }
        push @out, \%ev;
    }
    return @out;
}

# All the bytes to write to the peer now ('' when none).
sub data_to_send {
    my ($self) = @_;
    my $out = Tether::Raw::tether_ws_output($self->{ws});
    return '' unless defined $out && length $out;
    _check(Tether::Raw::tether_ws_output_sent($self->{ws}, length $out));
    return $out;
}

sub _payload {
    my ($text, $data) = @_;
    return ($Tether::Raw::TETHER_OP_BINARY, $data) unless $text;
    utf8::encode($data);
    return ($Tether::Raw::TETHER_OP_TEXT, $data);
}

sub send_text   { my ($s, $t) = @_; _check(Tether::Raw::tether_ws_send($s->{ws}, _payload(1, $t))); return }
sub send_binary { my ($s, $b) = @_; _check(Tether::Raw::tether_ws_send($s->{ws}, _payload(0, $b))); return }

sub send_fragment {
    my ($self, %a) = @_;
    my ($op, $data) = _payload($a{text}, $a{data} // '');
    _check(Tether::Raw::tether_ws_send_fragment($self->{ws}, $op, $data, $a{fin} ? 1 : 0));
    return;
}

sub ping { my ($s, $d) = @_; _check(Tether::Raw::tether_ws_ping($s->{ws}, $d // '')); return }

sub close {
    my ($self, $code, $reason, $now) = @_;
    _check(Tether::Raw::tether_ws_close($self->{ws}, $code // 1000, $reason, _ms($now)));
    return;
}

sub deadline {
    my $d = Tether::Raw::tether_ws_deadline($_[0]{ws});
    return $d ? $d / 1000 : undef;
}

sub on_time { _check(Tether::Raw::tether_ws_on_time($_[0]{ws}, _ms($_[1]))); return }

sub state { (qw(open closing closed))[ Tether::Raw::tether_ws_state($_[0]{ws}) ] }

sub buffered { Tether::Raw::tether_ws_buffered($_[0]{ws}) }

sub DESTROY {
    my ($self) = @_;
    Tether::Raw::tether_ws_free(delete $self->{ws}) if $self->{ws};
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Connection - one WebSocket connection without I/O: the C engine

=head1 SYNOPSIS

    use Tether::Connection;

    my $client = Tether::Connection->new(role => 'client');
    my $server = Tether::Connection->new(role => 'server', max_message => 1 << 20);

    $client->send_text('hello');
    $server->receive_data($client->data_to_send);
    for my $ev ($server->events) {
        $server->send_text($ev->{data}) if $ev->{type} eq 'message';   # echo
    }
    $client->receive_data($server->data_to_send);
    my ($echo) = $client->events;          # { type => 'message', text => 1, data => 'hello' }

    $client->close(1000, 'done');
    $server->receive_data($client->data_to_send);
    my ($end) = $server->events;           # { type => 'closed', code => 1000, clean => 1, ... }

=head1 DESCRIPTION

After the opening handshake (L<Tether::Handshake::Client>,
L<Tether::Handshake::Server>), a Tether::Connection is the whole connection
without I/O: the engine tether's own servers and clients run on
(C<tether_ws> in C). Feed it what you receive (C<receive_data>,
C<receive_eof>), take its C<events> and C<data_to_send>, and call
C<on_time> at its C<deadline>. It reassembles and inflates messages,
answers pings, runs the closing handshake and keepalive, enforces the
limits, and fails the connection with the right close code on a protocol
error. Unlike L<Tether::Parser>, which gives frames, it gives messages
and does the protocol's work itself.

=head1 METHODS

=over

=item new(role => 'client'|'server', %options)

Options: C<max_message>, C<max_frame>, C<ping_interval>, C<ping_timeout>,
C<close_timeout>, C<idle_timeout> (seconds), C<send_limit>, C<drain_mark>
(bytes), as for L<Tether::Options>; C<streaming> (fragment events instead
of whole messages); C<deflate>, a negotiated L<Tether::Deflate> the
connection takes over; C<now>, the clock's start. Times are seconds of
C<CLOCK_MONOTONIC> unless you pass C<now> yourself to every call that
takes it.

=item receive_data($bytes [, $now]), receive_eof()

Input from the peer; the end of its stream (a C<closed> event with 1006
follows unless the connection is over).

=item events()

The events so far, in order, as hash refs with C<type> C<message> (C<data>,
characters when C<text>), C<fragment> (C<data> as bytes, C<text>, C<fin>),
C<ping>, C<pong> (C<data>), C<drain>, and last C<closed> (C<code>,
C<reason>, C<clean>, C<error>: the C<TETHER_E_*> code or 0).

=item data_to_send()

All the bytes to write now.

=item send_text($string), send_binary($bytes), send_fragment(data => ..., text => 0|1, fin => 0|1), ping([$bytes]), close([$code [, $reason [, $now]]])

Queue frames; errors throw L<Tether::X> exceptions (C<Tether::X::NotOpen>
when closing, C<Tether::X::Backpressure> past C<send_limit>...).

=item deadline(), on_time([$now])

When the engine next has something to do (undef: nothing), and letting
time pass: a keepalive ping, or the end of a silent connection.

=item state(), buffered()

C<open>, C<closing> or C<closed>; bytes queued and not yet taken.

=back

=cut
