package Tether::Blocking::Context;

use strict;
use warnings;

use Scalar::Util ();
use Time::HiRes ();
use Tether::Context ();    # event type constants
use Tether::Raw ();
use Tether::X ();

sub new {
    my ($class, %args) = @_;
    my $ctx = Tether::Raw::tether_ctx_new()
      or Tether::X::System->throw('tether_ctx_new failed');
    return bless { ctx => $ctx, conns => {}, on_request => $args{on_request} }, $class;
}

sub ctx { $_[0]{ctx} }

# Connections are held weakly: one its owner dropped gets no more events.
sub add_conn {
    my ($self, $id, $conn) = @_;
    $self->{conns}{$id} = $conn;
    Scalar::Util::weaken($self->{conns}{$id});
}

# Waits up to $ms milliseconds (-1: no limit) for one event and routes it.
# Returns false on timeout.
sub pump {
    my ($self, $ms) = @_;
    my $ev = Tether::Raw::tether_pl_next($self->{ctx}, $ms) or return 0;
    my ($type, $id) = @$ev;
    if ($type == $Tether::Context::EV_REQUEST) {
        my $ok = eval { $self->{on_request}->($id, $ev->[2]) if $self->{on_request}; 1 };
        my $err = $@;
        Tether::Raw::tether_event_release($ev->[3]);
        warn "Tether: handling an upgrade request failed: $err" unless $ok;
        return 1;
    }
    my $c = $self->{conns}{$id};
    if ($type == $Tether::Context::EV_CLOSED) {
        delete $self->{conns}{$id};
        $c->_closed(@$ev[ 2 .. 9 ]) if $c;
    }
    elsif ($c) {
        $c->_event($ev);
    }
    return 1;
}

# Pumps until $done->() is true; throws Tether::X::Timeout after $seconds
# (undef: no limit).
sub wait_for {
    my ($self, $done, $seconds, $what) = @_;
    my $deadline = defined $seconds ? Time::HiRes::time() + $seconds : undef;
    until ($done->()) {
        my $ms = -1;
        if (defined $deadline) {
            my $left = $deadline - Time::HiRes::time();
            Tether::X::Timeout->throw("timed out waiting for $what") if $left <= 0;
            $ms = int($left * 1000) + 1;
        }
        $self->pump($ms);
    }
    return 1;
}

sub DESTROY {
    my ($self) = @_;
    if (${^GLOBAL_PHASE} eq 'DESTRUCT') {
        warn "Tether::Blocking::Context destroyed at global destruction; memory leak likely\n";
    }
    Tether::Raw::tether_ctx_free(delete $self->{ctx}) if $self->{ctx};
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Blocking::Context - the engine under Tether's blocking client and server

=head1 SYNOPSIS

    use Tether::Blocking::Context;

    my $bctx = Tether::Blocking::Context->new;
    $bctx->pump(10);    # waits at most 10 ms for one event

=head1 DESCRIPTION

Internal. Owns one C<tether_ctx> in poll mode and waits in
C<tether_next_event()>, routing each event to its
L<Tether::Blocking::Connection>. Waiting for one connection queues what
arrives for the others. Warns when destroyed at global destruction.

=cut
