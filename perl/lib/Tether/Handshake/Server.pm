package Tether::Handshake::Server;

use strict;
use warnings;

use Tether::Raw ();
use Tether::X ();

sub new {
    my ($class, %a) = @_;
    my $h = Tether::Raw::tether_server_hs_new() or Tether::X::System->throw('out of memory');
    my $self = bless { h => $h, deflate => $a{deflate}, buf => '', leftover => '' }, $class;
    for ([ max_header_bytes => \&Tether::Raw::tether_server_hs_set_max_header_bytes ],
        [ max_headers => \&Tether::Raw::tether_server_hs_set_max_headers ])
    {
        my ($k, $f) = @$_;
        next unless defined $a{$k};
        my $rc = $f->($h, $a{$k});
        Tether::X::throw_code($rc) if $rc < 0;
    }
    return $self;
}

# Feeds request bytes: 1 for a complete, valid upgrade request, 0 when more
# bytes are needed; throws Tether::X::Handshake (with http_status, the
# status to answer with: $hs->reject($err->status)).
sub parse {
    my ($self, $bytes) = @_;
    return 1 if $self->{done};
    $self->{buf} .= $bytes;
    my ($rc, $used) = Tether::Raw::tether_server_hs_parse($self->{h}, $self->{buf});
    substr($self->{buf}, 0, $used, '');
    return 0 if $rc == $Tether::Raw::TETHER_E_AGAIN;
    Tether::X::throw_code($rc, http_status => Tether::Raw::tether_error_http_status($rc))
      if $rc < 0;
    $self->{leftover} = delete $self->{buf};
    $self->{done} = 1;
    return 1;
}

sub leftover   { $_[0]{leftover} }
sub method     { Tether::Raw::tether_server_hs_method($_[0]{h}) }
sub target     { Tether::Raw::tether_server_hs_target($_[0]{h}) }
sub path       { Tether::Raw::tether_server_hs_path($_[0]{h}) }
sub query      { Tether::Raw::tether_server_hs_query($_[0]{h}) }
sub header     { Tether::Raw::tether_server_hs_header($_[0]{h}, $_[1]) }
sub origin     { Tether::Raw::tether_server_hs_origin($_[0]{h}) }
sub extensions { Tether::Raw::tether_server_hs_extensions($_[0]{h}) }

sub headers {
    my ($self) = @_;
    my $n = Tether::Raw::tether_server_hs_header_count($self->{h});
    return map { my (undef, $k, $v) = Tether::Raw::tether_server_hs_header_at($self->{h}, $_); ($k, $v) }
      0 .. $n - 1;
}

sub protocols {
    my ($self) = @_;
    my $n = Tether::Raw::tether_server_hs_protocol_count($self->{h});
    return map { Tether::Raw::tether_server_hs_protocol_at($self->{h}, $_) } 0 .. $n - 1;
}

sub select_protocol {
    my ($self, $p) = @_;
    my $rc = Tether::Raw::tether_server_hs_select_protocol($self->{h}, $p);
    Tether::X::throw_code($rc, message => "sub-protocol '$p' was not offered") if $rc < 0;
    return;
}

sub add_header {
    my ($self, $n, $v) = @_;
    my $rc = Tether::Raw::tether_server_hs_add_header($self->{h}, $n, $v);
    Tether::X::throw_code($rc, message => "bad header '$n'") if $rc < 0;
    return;
}

# The 101 response (negotiating permessage-deflate when a Tether::Deflate
# was given).
sub accept {
    my ($self) = @_;
    if ($self->{deflate} && defined(my $offers = $self->extensions)) {
        my $answer = $self->{deflate}->negotiate($offers);
        if (defined $answer) {
            my $rc = Tether::Raw::tether_server_hs_set_extensions($self->{h}, $answer);
            Tether::X::throw_code($rc) if $rc < 0;
        }
    }
    my ($rc, $bytes) = Tether::Raw::tether_server_hs_accept($self->{h});
    Tether::X::throw_code($rc) if $rc < 0;
    return $bytes;
}

sub reject {
    my ($self, $status, $body) = @_;
    my ($rc, $bytes) = Tether::Raw::tether_server_hs_reject($self->{h}, $status // 400, $body);
    Tether::X::throw_code($rc) if $rc < 0;
    return $bytes;
}

sub DESTROY {
    my ($self) = @_;
    warn "Tether::Handshake::Server destroyed at global destruction; memory leak likely\n"
      if ${^GLOBAL_PHASE} eq 'DESTRUCT';
    Tether::Raw::tether_server_hs_free(delete $self->{h}) if $self->{h};
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Handshake::Server - the server's opening handshake, without I/O

=head1 SYNOPSIS

    use Tether::Handshake::Server;

    my $request = "GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\n"
      . "Upgrade: websocket\r\nConnection: Upgrade\r\n"
      . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      . "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n";

    my $hs = Tether::Handshake::Server->new;
    my $response = eval {
        $hs->parse($request) or die 'incomplete';
        print $hs->path, ' ', $hs->query, "\n";          # /chat room=1
        $hs->select_protocol('chat');
        $hs->accept;                                      # 101 Switching Protocols
    } // $hs->reject(ref $@ ? $@->status : 400);

=head1 DESCRIPTION

Parses an upgrade request (GET, HTTP/1.1, Host, Upgrade, Connection,
Sec-WebSocket-Version 13, a valid key) and builds the answer, for servers
that do their own I/O or serve plain HTTP too.

=head1 METHODS

=over

=item C<< new(max_header_bytes => ..., max_headers => ..., deflate => $tether_deflate) >>

=item C<parse($bytes)> - 1 for a complete valid upgrade, 0 when more is
needed; throws L<Tether::X::Handshake> whose C<status> is the HTTP status
to answer with (400, 405, 426, 431). After an error with a complete head,
the accessors still work.

=item C<method>, C<target>, C<path>, C<query>, C<header($name)>,
C<headers>, C<origin>, C<protocols> (offered, in order), C<extensions> (the
raw offers), C<leftover> (bytes after the head).

=item C<select_protocol($p)>, C<add_header($name, $value)>.

=item C<accept> - the 101 response bytes (with permessage-deflate
negotiated when C<deflate> was given); C<reject($status [, $body])> - an
error response.

=back

=cut
