package Tether::Loop::AnyEvent;

use strict;
use warnings;

use AnyEvent ();

sub new {
    my ($class, $loop) = @_;
    return bless {}, $class;
}

sub name { 'AnyEvent' }

# AnyEvent has one loop per process.
sub key { 'AnyEvent' }

sub io {
    my ($self, $fh, $cb) = @_;
    return AE::io($fh, 0, $cb);
}

sub timer {
    my ($self, $seconds, $cb) = @_;
    return AE::timer($seconds, 0, $cb);
}

sub cancel_timer { }    # dropping the guard cancels it

sub now { AE::now() }

sub deferred {
    require Tether::Promise;
    return Tether::Promise->deferred;
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Loop::AnyEvent - Tether on AnyEvent

=head1 SYNOPSIS

    use Tether::Client;

    my $done = Tether::Client::connect(
        url      => 'ws://127.0.0.1:9000/',
        event    => 'AnyEvent',
        on_ready => sub { $_[0]->close },
    );
    my ($code, $reason) = @{ $done->recv };    # dies with a Tether::X

=head1 DESCRIPTION

Used when C<< event => 'AnyEvent' >> is given. Promises are
L<Tether::Promise>s: C<then>, C<catch> and C<finally> as Net::Libwebsockets'
promises, and as the L<AnyEvent::CondVar>s they were: C<< ->recv >> returns
C<[code, reason]> or dies with the L<Tether::X> object; C<< ->cb(sub { ... })
>> is called in both cases.
Works with any AnyEvent backend (EV, the pure-Perl loop...).

=cut
