package Tether::Request;

use strict;
use warnings;

use Tether::Raw ();
use Tether::X ();

sub _new {
    my ($class, $conn, $courier) = @_;
    return bless { conn => $conn, courier => $courier }, $class;
}

# After the on_request callback: the connection pointer may not be used
# through this object any more.
sub _done { $_[0]{conn} = undef }

sub _conn {
    my ($self) = @_;
    return $self->{conn} if $self->{conn};
    Tether::X::NotOpen->throw('the request has been answered: use it only inside on_request');
}

sub path   { Tether::Raw::tether_conn_path($_[0]->_conn) }
sub query  { Tether::Raw::tether_conn_query($_[0]->_conn) }
sub peer   { Tether::Raw::tether_conn_peer($_[0]->_conn) }
sub header { Tether::Raw::tether_conn_header($_[0]->_conn, $_[1]) }
sub origin { Tether::Raw::tether_conn_header($_[0]->_conn, 'Origin') }

# Every header of the request, in order: a list of [name, value] pairs
# (a name that came twice is there twice).
sub headers { @{ Tether::Raw::tether_pl_conn_headers($_[0]->_conn) } }

sub protocols {
    my ($self) = @_;
    my $h = $self->header('Sec-WebSocket-Protocol') // return;
    return grep { length } split /\s*,\s*/, $h;
}

sub courier { $_[0]{courier} }

sub accept {
    my ($self, $protocol) = @_;
    my $rc = Tether::Raw::tether_conn_accept($self->_conn, $protocol);
    Tether::X::throw_code($rc) if $rc < 0;
    return;
}

sub reject {
    my ($self, $status, $body) = @_;
    my $rc = Tether::Raw::tether_conn_reject($self->_conn, $status // 403, $body);
    Tether::X::throw_code($rc) if $rc < 0;
    return;
}

sub add_header {
    my ($self, $name, $value) = @_;
    my $rc = Tether::Raw::tether_conn_add_header($self->_conn, $name, $value);
    Tether::X::throw_code($rc) if $rc < 0;
    return;
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Request - an upgrade request, as a Tether server's on_request sees it

=head1 SYNOPSIS

    use Tether::Server;

    my $server = Tether::Server->new(
        event         => 'AnyEvent',
        subprotocols  => ['v2', 'v1'],
        on_request    => sub {
            my ($req) = @_;
            return $req->reject(403, 'go away') unless ($req->header('X-Token') // '') eq 'sesame';
            $req->add_header('X-Server' => 'tether');
            $req->accept('v1') if grep { $_ eq 'v1' } $req->protocols;
        },
        on_connection => sub { },
    );
    $server->close;

=head1 DESCRIPTION

Given to C<on_request> of L<Tether::Server> and
L<Tether::Blocking::Server> for each valid upgrade request; valid only
during that call. Doing nothing accepts the request with the automatic
sub-protocol choice.

=head1 METHODS

=over

=item C<path>, C<query> (undef if none), C<header($name)> (case-insensitive;
repeated headers joined with ", "), C<origin>, C<peer> (C<ip:port>),
C<protocols> (the offered sub-protocols, in order).

=item C<headers> - every header of the request in the order it came, as a
list of C<[$name, $value]> pairs.

=item C<accept( [$protocol] )> - accept, choosing a sub-protocol (one the
client offered) or none.

=item C<reject( $status [, $body] )> - answer with an HTTP status (default
403) and a plain-text body.

=item C<add_header( $name, $value )> - one more header in the answer.

=item C<courier> - the L<Tether::Courier> the connection will have.

=back

=cut
