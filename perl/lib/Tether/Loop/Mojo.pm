package Tether::Loop::Mojo;

use strict;
use warnings;

use Mojo::IOLoop ();
use Mojo::Promise ();
use Scalar::Util ();
use Time::HiRes ();

sub new {
    my ($class, $loop) = @_;
    $loop //= Mojo::IOLoop->singleton;
    return bless { loop => $loop }, $class;
}

sub name { 'Mojolicious' }
sub loop { $_[0]{loop} }
sub key  { 'Mojo:' . Scalar::Util::refaddr($_[0]{loop}) }

package Tether::Loop::Mojo::IOGuard {
    sub DESTROY {
        my ($self) = @_;
        my $reactor = $self->{reactor} or return;
        $reactor->remove($self->{fh});
    }
}

sub io {
    my ($self, $fh, $cb) = @_;
    my $reactor = $self->{loop}->reactor;
    $reactor->io($fh => sub { $cb->() });
    $reactor->watch($fh, 1, 0);
    my $g = bless { reactor => $reactor, fh => $fh }, 'Tether::Loop::Mojo::IOGuard';
    Scalar::Util::weaken($g->{reactor});
    return $g;
}

sub timer {
    my ($self, $seconds, $cb) = @_;
    return $self->{loop}->reactor->timer($seconds, $cb);
}

sub cancel_timer {
    my ($self, $id) = @_;
    $self->{loop}->reactor->remove($id) if defined $id;
}

sub now { Time::HiRes::time() }

sub deferred {
    my ($self) = @_;
    my $p = Mojo::Promise->new;
    $p->ioloop($self->{loop});
    return ($p, sub { $p->resolve($_[0]) }, sub { $p->reject($_[0]) });
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Loop::Mojo - Tether on Mojolicious (Mojo::IOLoop)

=head1 SYNOPSIS

    use Mojo::IOLoop;
    use Tether::Client;

    Tether::Client::connect(
        url      => 'ws://127.0.0.1:9000/',
        event    => 'Mojolicious',
        on_ready => sub { $_[0]->close },
    )->then(
        sub { my ($code, $reason) = @{ $_[0] }; print "closed $code\n" },
        sub { my ($err) = @_; print "failed: $err" },
    )->wait;

=head1 DESCRIPTION

Used when C<< event => 'Mojolicious' >> (or C<'Mojo'>) is given. The loop is
the one passed as C<loop>, or C<< Mojo::IOLoop->singleton >>. Promises are
L<Mojo::Promise>s: C<then>, C<catch>, C<finally>, C<wait> as usual; they
resolve with C<[code, reason]> and reject with the L<Tether::X> object.

=cut
