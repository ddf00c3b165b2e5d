package Tether::Loop;

use strict;
use warnings;

use Tether::X ();

my %ADAPTER = (
    'AnyEvent'    => 'Tether::Loop::AnyEvent',
    'IO::Async'   => 'Tether::Loop::IOAsync',
    'IOAsync'     => 'Tether::Loop::IOAsync',
    'Mojolicious' => 'Tether::Loop::Mojo',
    'Mojo'        => 'Tether::Loop::Mojo',
);

# The adapter for event => NAME (and an optional loop object), or
# event => [NAME, LOOP] as Net::Libwebsockets takes it.
sub adapter {
    my ($class, $event, $loop) = @_;
    ($event, $loop) = ($event->[0], $event->[1] // $loop) if ref $event eq 'ARRAY';
    Tether::X::Usage->throw("event => 'AnyEvent' | 'IO::Async' | 'Mojolicious' is required")
      unless defined $event;
    my $impl = $ADAPTER{$event}
      or Tether::X::Usage->throw("unknown event loop '$event' (AnyEvent, IO::Async or Mojolicious)");
    (my $file = "$impl.pm") =~ s{::}{/}g;
    require $file;
    return $impl->new($loop);
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Loop - how Tether plugs into AnyEvent, IO::Async and Mojolicious

=head1 SYNOPSIS

    use Tether::Loop;

    my $adapter = Tether::Loop->adapter('AnyEvent');
    my ($promise, $resolve, $reject) = $adapter->deferred;
    $resolve->([1000, '']);
    my ($code) = @{ $promise->recv };

=head1 DESCRIPTION

Internal. Each adapter gives L<Tether::Context> the same few operations
over its loop: watch a file descriptor for reading (C<io>), a one-shot
timer (C<timer>, C<cancel_timer>), the current time (C<now>), a key that
identifies the loop (C<key>), and C<deferred>, which returns the loop's
own kind of promise with the subs that settle it:

=over

=item L<Tether::Loop::AnyEvent>: an L<AnyEvent::CondVar>;

=item L<Tether::Loop::IOAsync>: a L<Future> made by the loop;

=item L<Tether::Loop::Mojo>: a L<Mojo::Promise>.

=back

The C library is driven as a foreign loop: Tether watches
C<tether_ctx_fd()> and honours C<tether_ctx_timeout()>, and calls
C<tether_ctx_service(ctx, 0)> when either fires (see F<tether.h>).

=cut
