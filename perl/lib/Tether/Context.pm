package Tether::Context;

use strict;
use warnings;

use Scalar::Util ();
use Tether::Raw ();
use Tether::X ();

# Event types, from the header.
our ($EV_WAKE, $EV_REQUEST, $EV_OPEN, $EV_MESSAGE, $EV_FRAGMENT, $EV_PING, $EV_PONG,
    $EV_DRAIN, $EV_CLOSED, $EV_HTTP, $EV_RETRY);
{
    no strict 'refs';
    ($EV_WAKE, $EV_REQUEST, $EV_OPEN, $EV_MESSAGE, $EV_FRAGMENT, $EV_PING, $EV_PONG, $EV_DRAIN,
        $EV_CLOSED, $EV_HTTP, $EV_RETRY)
      = map { ${"Tether::Raw::TETHER_EV_$_"} }
      qw(WAKE REQUEST OPEN MESSAGE FRAGMENT PING PONG DRAIN CLOSED HTTP RETRY);
}

# One shared context for the clients of each loop; servers get their own.
my %SHARED;

sub shared {
    my ($class, $adapter) = @_;
    my $key = $adapter->key;
    my $self = $SHARED{$key};
    return $self if $self;
    $self = $class->new($adapter);
    $SHARED{$key} = $self;
    Scalar::Util::weaken($SHARED{$key});
    return $self;
}

sub new {
    my ($class, $adapter, %args) = @_;
    my $ctx = Tether::Raw::tether_ctx_new()
      or Tether::X::System->throw('tether_ctx_new failed');
    # Each payload is copied into a Perl string anyway: with the library
    # copying those up to 64 KiB into their events, one round hands out
    # every message a read brought (instead of one round, and its
    # system calls, per message of a connection).
    Tether::Raw::tether_ctx_set_event_copy($ctx, 65536);
    my $fd = Tether::Raw::tether_ctx_fd($ctx);
    # A duplicate of the library's descriptor, so that closing the Perl
    # handle never closes the library's own.
    open(my $fh, '<&', $fd) or do {
        Tether::Raw::tether_ctx_free($ctx);
        Tether::X::System->throw("cannot duplicate the context's descriptor: $!");
    };
    my $self = bless {
        ctx        => $ctx,
        adapter    => $adapter,
        fh         => $fh,
        conns      => {},
        on_request => $args{on_request},
        on_http    => $args{on_http},
        deadline   => undef,
        timer      => undef,
    }, $class;
    my $weak = $self;
    Scalar::Util::weaken($weak);
    $self->{io} = $adapter->io($fh, sub { $weak->service if $weak });
    return $self;
}

sub ctx     { $_[0]{ctx} }
sub adapter { $_[0]{adapter} }

# Registers the Perl object that receives a connection's events (a
# Tether::Courier); it is held until the connection's CLOSED event (a RETRY
# keeps it: the same connection opens again).
sub add_conn {
    my ($self, $id, $courier) = @_;
    $self->{conns}{$id} = $courier;
}

sub conns { values %{ $_[0]{conns} } }

# Runs the library's ready work and dispatches its events.
sub service {
    my ($self) = @_;
    my $events = Tether::Raw::tether_pl_service($self->{ctx});
    return $self->arm unless @$events;
    # CLOSED events come held, so that a connection stays valid for the
    # events before its end in this batch; they are released at the end,
    # whatever happens.
    my @held = map { $_->[0] == $EV_CLOSED ? $_->[10] : () } @$events;
    my $guard = @held ? Tether::Context::Release->new(\@held) : undef;
    for my $ev (@$events) {
        my ($type, $id) = @$ev;
        if ($type == $EV_REQUEST || $type == $EV_HTTP) {
            $self->_request($ev, $type == $EV_HTTP ? 'on_http' : 'on_request');
            next;
        }
        my $c = $self->{conns}{$id} or next;
        if    ($type == $EV_MESSAGE) { $c->_message($ev->[2], $ev->[3]) }
        elsif ($type == $EV_OPEN)    { $c->_open }
        elsif ($type == $EV_CLOSED) {
            delete $self->{conns}{$id};
            $c->_closed(@$ev[ 2 .. 9 ]);
        }
        elsif ($type == $EV_RETRY) { $c->_retry(@$ev[ 2 .. 10 ]) }
        elsif ($type == $EV_PING)  { $c->_ping($ev->[2]) }
        elsif ($type == $EV_PONG)  { $c->_pong($ev->[2]) }
        elsif ($type == $EV_DRAIN) { $c->_drain }
    }
    undef $guard;
    $self->arm;
    return;
}

package Tether::Context::Release {
    sub new { bless $_[1], $_[0] }
    sub DESTROY { Tether::Raw::tether_event_release($_) for @{ $_[0] } }
}

package Tether::Context;

# An upgrade request (on_request) or a plain HTTP request (on_http); the
# event is released once the callback has decided.
sub _request {
    my ($self, $ev, $which) = @_;
    my (undef, $id, $conn, $event) = @$ev;
    my $cb = $self->{$which};
    my $ok = eval {
        $cb ? $cb->($id, $conn) : Tether::Raw::tether_conn_respond($conn, 404, undef, undef);
        1;
    };
    my $err = $@;
    Tether::Raw::tether_event_release($event);
    warn "Tether: handling a request failed: $err" unless $ok;
}

# Sets the timer to the library's next deadline.
sub arm {
    my ($self) = @_;
    my $ms = Tether::Raw::tether_ctx_timeout($self->{ctx});
    my $adapter = $self->{adapter};
    if ($ms < 0) {
        if (defined $self->{timer}) {
            $adapter->cancel_timer(delete $self->{timer});
            $self->{deadline} = undef;
        }
        return;
    }
    my $deadline = $adapter->now + $ms / 1000;
    # A timer already due no later than this is good enough: when it fires,
    # the library is asked again.
    return if defined $self->{timer} && $self->{deadline} <= $deadline + 0.0005;
    $adapter->cancel_timer(delete $self->{timer}) if defined $self->{timer};
    my $weak = $self;
    Scalar::Util::weaken($weak);
    $self->{deadline} = $deadline;
    $self->{timer} = $adapter->timer(
        $ms / 1000,
        sub {
            return unless $weak;
            $weak->{timer} = undef;
            $weak->{deadline} = undef;
            $weak->service;
        }
    );
    return;
}

sub DESTROY {
    my ($self) = @_;
    if (${^GLOBAL_PHASE} eq 'DESTRUCT') {
        warn "Tether::Context destroyed at global destruction; memory leak likely\n";
    }
    $self->{adapter}->cancel_timer(delete $self->{timer})
      if defined $self->{timer} && $self->{adapter};
    delete $self->{io};
    close delete $self->{fh} if $self->{fh};
    Tether::Raw::tether_ctx_free(delete $self->{ctx}) if $self->{ctx};
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Context - a tether context driven by a Perl event loop

=head1 SYNOPSIS

    use Tether::Loop;
    use Tether::Context;

    my $ctx = Tether::Context->shared(Tether::Loop->adapter('AnyEvent'));
    $ctx->service;    # what the loop calls when the context's fd is readable

=head1 DESCRIPTION

Internal. Owns one C<tether_ctx> in poll mode, watches its descriptor
with the loop's adapter (L<Tether::Loop>), keeps a timer at
C<tether_ctx_timeout()>, and on either calls C<tether_ctx_service(ctx, 0)>
and hands each event to the L<Tether::Courier> of its connection (a
RETRY, from a client with C<reconnect>, to the same courier as the OPEN
that follows it). The
clients of one loop share one context; each L<Tether::Server> has its own.

It warns when destroyed at global destruction (see
L<Tether/MEMORY LEAK DETECTION>).

=cut
