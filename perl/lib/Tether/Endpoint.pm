package Tether::Endpoint;

# What every live connection object shares, whatever drives it: the
# event-loop Tether::Courier and the blocking Tether::Blocking::Connection
# both inherit it. Both keep the C connection in $self->{conn} (undef once
# it is gone) and the fields below.

use strict;
use warnings;

use Tether::Raw ();
use Tether::X ();

my $OP_TEXT   = $Tether::Raw::TETHER_OP_TEXT;
my $OP_BINARY = $Tether::Raw::TETHER_OP_BINARY;

sub _conn {
    my ($self) = @_;
    return $self->{conn} if $self->{conn};
    Tether::X::NotOpen->throw('the connection is closed');
}

# Sends return 1 when the message is queued, and 0 when the connection is
# closing (the closing handshake has begun, from either side): the message
# is dropped, as nothing more can be sent. Once the connection is closed,
# and while a client with reconnect waits to connect again, they throw
# Tether::X::NotOpen.
sub send_text {
    my $rc = Tether::Raw::tether_pl_send($_[0]{conn} // $_[0]->_conn, $OP_TEXT, $_[1]);
    return 1 if $rc == 0;
    return _not_sent($_[0]) if $rc == $Tether::Raw::TETHER_E_STATE;
    Tether::X::throw_code($rc);
}

sub send_binary {
    my $rc = Tether::Raw::tether_pl_send($_[0]{conn} // $_[0]->_conn, $OP_BINARY, $_[1]);
    return 1 if $rc == 0;
    return _not_sent($_[0]) if $rc == $Tether::Raw::TETHER_E_STATE;
    Tether::X::throw_code($rc, message => 'a binary message is bytes: characters above 255 found')
      if $rc == $Tether::Raw::TETHER_E_INVAL;
    Tether::X::throw_code($rc);
}

# The library refused a send (TETHER_E_STATE): 0 while closing, a throw
# while (re)connecting.
sub _not_sent {
    my ($self) = @_;
    Tether::X::NotOpen->throw('the connection is not open (it is connecting again)')
      if $self->{state} eq 'connecting';
    return 0;
}

# The connection's figures (tether_conn_stats): a hash ref with the C
# struct's field names; after the end, the last ones.
sub stats {
    my ($self) = @_;
    return $self->{conn} ? Tether::Raw::tether_pl_conn_stats($self->{conn}) : $self->{stats};
}

sub id         { $_[0]{id} }
sub role       { $_[0]{role} }
sub state      { $_[0]{state} }
sub is_open    { $_[0]{state} eq 'open' }
sub status     { $_[0]{status} }
sub protocol   { $_[0]{conn} && Tether::Raw::tether_conn_protocol($_[0]{conn}) }
sub extensions { $_[0]{conn} && Tether::Raw::tether_conn_extensions($_[0]{conn}) }
sub path       { $_[0]{conn} && Tether::Raw::tether_conn_path($_[0]{conn}) }
sub query      { $_[0]{conn} && Tether::Raw::tether_conn_query($_[0]{conn}) }
sub peer       { $_[0]{conn} && Tether::Raw::tether_conn_peer($_[0]{conn}) }
sub http_status { $_[0]{conn} && Tether::Raw::tether_conn_http_status($_[0]{conn}) }
sub tls_version { $_[0]{conn} && Tether::Raw::tether_conn_tls_version($_[0]{conn}) }
sub tls_cipher  { $_[0]{conn} && Tether::Raw::tether_conn_tls_cipher($_[0]{conn}) }
sub http2_stream { $_[0]{conn} ? Tether::Raw::tether_conn_http2_stream($_[0]{conn}) : 0 }

sub header {
    my ($self, $name) = @_;
    return $self->{conn} && Tether::Raw::tether_conn_header($self->{conn}, $name);
}

# A close the library refused: not open any more, or a bad code or reason.
sub _close_failed {
    my ($rc, $code) = @_;
    Tether::X::throw_code($rc) if $rc == $Tether::Raw::TETHER_E_STATE;
    Tether::X::Usage->throw(message => "cannot close with code $code and this reason: "
          . Tether::Raw::tether_strerror($rc), error => $rc);
}

# Every header the handshake received (a server: the request's; a client:
# the response's), in order, as [name, value] pairs.
sub headers {
    my ($self) = @_;
    return $self->{conn} ? @{ Tether::Raw::tether_pl_conn_headers($self->{conn}) } : ();
}

1;

__END__

=head1 NAME

Tether::Endpoint - what Tether::Courier and Tether::Blocking::Connection share

=head1 SYNOPSIS

    use Tether::Blocking::Client;

    my $ws = Tether::Blocking::Client->connect(url => 'ws://127.0.0.1:9000/');
    # a Tether::Endpoint, as every Tether::Courier of the event loops is
    printf "%s: %s\n", @$_ for $ws->headers;    # the response's headers
    $ws->send_text('hello') if $ws->is_open;
    $ws->close(1000, 'done');

=head1 DESCRIPTION

Not used directly: the base class of the live connection objects, with
the sends (C<send_text>, C<send_binary>: 1 when queued, 0 while closing, a
L<Tether::X::NotOpen> once closed) and the accessors (C<id>, C<role>,
C<state>, C<is_open>, C<status>, C<protocol>, C<extensions>, C<path>,
C<query>, C<peer>, C<http_status>, C<tls_version>, C<tls_cipher>,
C<http2_stream> (0 on HTTP/1.1), C<header($name)>, C<headers>) and
C<stats> (the connection's figures). See L<Tether::Courier> for each.

=cut
