package Tether::Promise;

# The AnyEvent adapter's promise: then / catch / finally as
# Net::Libwebsockets' promises (Promises/A+: callbacks run later, from the
# loop, never inside the call that settles; a callback's return value, or
# a promise it returns, settles the next one; a callback that dies rejects
# it), and the AnyEvent::CondVar it used to be (recv, cb, send, croak,
# ready), so code written either way works.

use strict;
use warnings;

use AnyEvent ();
use Scalar::Util ();

# (promise, resolve, reject)
sub deferred {
    my ($class) = @_;
    my $self = bless { state => 'pending', cbs => [], cv => AE::cv() }, $class;
    return ($self, sub { $self->_settle(1, $_[0]) }, sub { $self->_settle(0, $_[0]) });
}

sub _settle {
    my ($self, $ok, $value) = @_;
    return if $self->{state} ne 'pending';
    $self->{state} = $ok ? 'fulfilled' : 'rejected';
    $self->{value} = $value;
    $ok ? $self->{cv}->send($value) : $self->{cv}->croak($value);
    my $cbs = delete $self->{cbs};
    AE::postpone(sub { $_->() for @$cbs }) if @$cbs;
}

sub _when_settled {
    my ($self, $cb) = @_;
    if   ($self->{state} eq 'pending') { push @{ $self->{cbs} }, $cb }
    else                               { AE::postpone { $cb->() } }
}

# Settles a promise with what a callback returned: a promise (anything
# with a then) is followed, anything else is the value.
sub _adopt {
    my ($value, $resolve, $reject) = @_;
    if (Scalar::Util::blessed($value) && $value->can('then')) {
        $value->then($resolve, $reject);
    }
    else {
        $resolve->($value);
    }
}

sub then {
    my ($self, $on_ok, $on_err) = @_;
    my ($next, $resolve, $reject) = ref($self)->deferred;
    $self->_when_settled(sub {
        my $ok = $self->{state} eq 'fulfilled';
        my $cb = $ok ? $on_ok : $on_err;
        return ($ok ? $resolve : $reject)->($self->{value}) unless $cb;
        my $r;
        if (eval { $r = $cb->($self->{value}); 1 }) { _adopt($r, $resolve, $reject) }
        else                                         { $reject->($@) }
    });
    return $next;
}

sub catch { $_[0]->then(undef, $_[1]) }

# $cb runs however the promise settles (an AnyEvent::CondVar works: it is
# called as a code reference); the value or error passes through.
sub finally {
    my ($self, $cb) = @_;
    return $self->then(
        sub { my ($v) = @_; $cb->(); $v },
        sub {    # rejected with the same error, untouched (die would add "at ...")
            my ($e) = @_;
            $cb->();
            my ($p, undef, $reject) = ref($self)->deferred;
            $reject->($e);
            return $p;
        },
    );
}

# ---- as an AnyEvent::CondVar ----------------------------------------------

sub recv  { $_[0]{cv}->recv }
sub ready { $_[0]{cv}->ready }
sub send  { $_[0]->_settle(1, $_[1]); $_[0] }
sub croak { $_[0]->_settle(0, $_[1]); $_[0] }

sub cb {
    my ($self, $cb) = @_;
    $self->{cv}->cb(sub { $cb->($self) });
    return $self;
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Promise - the promise Tether returns under AnyEvent

=head1 SYNOPSIS

    use AnyEvent;
    use Tether::Client;

    my $cv = AE::cv();
    Tether::Client::connect(
        url      => 'ws://127.0.0.1:9000/',
        event    => 'AnyEvent',
        on_ready => sub { $_[0]->close },
    )->then(
        sub { my ($code, $reason) = @{ $_[0] }; print "closed: $code\n" },
        sub { warn "failed: $_[0]" },
    )->finally($cv);
    $cv->recv;

    # or, as an AnyEvent::CondVar:
    my $done = Tether::Client::connect(
        url      => 'ws://127.0.0.1:9000/',
        event    => 'AnyEvent',
        on_ready => sub { $_[0]->close },
    );
    my ($code, $reason) = @{ $done->recv };    # dies with a Tether::X

=head1 DESCRIPTION

C<then>, C<catch> and C<finally> follow Promises/A+ (as Net::Libwebsockets'
promises do): callbacks run from the loop after the promise settles, each
returns a new promise settled by what its callback returns (or follows the
promise it returns), and a callback that dies rejects it. C<finally>'s
callback (an L<AnyEvent::CondVar> is fine) runs either way and passes the
outcome on. C<recv>, C<cb>, C<send>, C<croak> and C<ready> work as on the
L<AnyEvent::CondVar> Tether returned before.

=cut
