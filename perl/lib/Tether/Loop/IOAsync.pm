package Tether::Loop::IOAsync;

use strict;
use warnings;

use IO::Async::Loop ();
use Scalar::Util ();
use Time::HiRes ();

sub new {
    my ($class, $loop) = @_;
    $loop //= IO::Async::Loop->new;    # the process's loop
    return bless { loop => $loop }, $class;
}

sub name { 'IO::Async' }
sub loop { $_[0]{loop} }
sub key  { 'IO::Async:' . Scalar::Util::refaddr($_[0]{loop}) }

package Tether::Loop::IOAsync::IOGuard {
    sub DESTROY {
        my ($self) = @_;
        $self->{loop}->unwatch_io(handle => $self->{fh}, on_read_ready => 1);
    }
}

sub io {
    my ($self, $fh, $cb) = @_;
    $self->{loop}->watch_io(handle => $fh, on_read_ready => $cb);
    return bless { loop => $self->{loop}, fh => $fh }, 'Tether::Loop::IOAsync::IOGuard';
}

sub timer {
    my ($self, $seconds, $cb) = @_;
    return $self->{loop}->watch_time(after => $seconds, code => $cb);
}

sub cancel_timer {
    my ($self, $id) = @_;
    $self->{loop}->unwatch_time($id) if defined $id;
}

sub now { Time::HiRes::time() }

sub deferred {
    my ($self) = @_;
    my $f = $self->{loop}->new_future;
    return ($f, sub { $f->done($_[0]) unless $f->is_ready },
        sub { $f->fail($_[0]) unless $f->is_ready });
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Loop::IOAsync - Tether on IO::Async

=head1 SYNOPSIS

    use IO::Async::Loop;
    use Tether::Client;

    my $loop = IO::Async::Loop->new;
    my $f = Tether::Client::connect(
        url      => 'ws://127.0.0.1:9000/',
        event    => 'IO::Async',
        loop     => $loop,                      # optional
        on_ready => sub { $_[0]->close },
    );
    my ($code, $reason) = @{ $f->get };        # dies with a Tether::X

=head1 DESCRIPTION

Used when C<< event => 'IO::Async' >> is given. The loop is the one passed
as C<loop>, or C<< IO::Async::Loop->new >> (the process's loop). Promises are
L<Future>s made by the loop: C<< ->get >> (or C<< $loop->await($f) >>)
returns C<[code, reason]> or dies with the L<Tether::X> object, and
C<< ->then >>, C<< ->on_done >>, C<< ->on_fail >> work as usual.

=cut
