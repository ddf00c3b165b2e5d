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

sub method { Tether::Raw::tether_conn_method($_[0]->_conn) }
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

# A plain HTTP request's answer (on_http): status, body (bytes; characters
# are sent as UTF-8), and content_type / headers => [name, value, ...].
sub respond {
    my ($self, $status, $body, %opt) = @_;
    Tether::X::Usage->throw('respond($status, $body, %options): a status is needed')
      unless defined $status;
    my $conn = $self->_conn;
    my @h = @{ $opt{headers} // [] };
    while (my ($name, $value) = splice @h, 0, 2) {
        my $rc = Tether::Raw::tether_conn_add_header($conn, $name, $value);
        Tether::X::throw_code($rc, message => "header '$name': " . Tether::Raw::tether_strerror($rc))
          if $rc < 0;
    }
    $body //= '';
    utf8::encode($body) if utf8::is_utf8($body);
    my $type = $opt{content_type} // (length $body ? 'text/plain; charset=utf-8' : undef);
    my $rc = Tether::Raw::tether_conn_respond($conn, $status, $type, $body);
    Tether::X::throw_code($rc) if $rc < 0;
    $self->{answered} = 1;
    return;
}

sub answered { $_[0]{answered} ? 1 : 0 }

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

Tether::Request - an upgrade request (on_request) or a plain HTTP request (on_http), as a Tether server sees it

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
sub-protocol choice. L<Tether::Server>'s C<on_http> gets one for each
plain HTTP request, which it answers with C<respond>.

=head1 METHODS

=over

=item C<method> (C<GET>, C<POST>, ...), C<path>, C<query> (undef if none), C<header($name)> (case-insensitive;
repeated headers joined with ", "), C<origin>, C<peer> (C<ip:port>),
C<protocols> (the offered sub-protocols, in order).

=item C<headers> - every header of the request in the order it came, as a
list of C<[$name, $value]> pairs.

=item C<accept( [$protocol] )> - accept, choosing a sub-protocol (one the
client offered) or none.

=item C<reject( $status [, $body] )> - answer with an HTTP status (default
403) and a plain-text body.

=item C<add_header( $name, $value )> - one more header in the answer.

=item C<respond( $status, $body, %options )> - answers a plain HTTP
request (C<on_http>): C<$body> bytes (a character string goes as UTF-8),
C<< content_type => $type >> (default C<text/plain; charset=utf-8> when
there is a body), C<< headers => [$name => $value, ...] >>. The body of
the request, if any, is not read: it is dropped. C<answered> says whether
it was called.

=item C<courier> - the L<Tether::Courier> the connection will have.

=back

=cut
