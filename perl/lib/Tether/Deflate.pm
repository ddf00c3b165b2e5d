package Tether::Deflate;

use strict;
use warnings;

use Tether::Frame ();
use Tether::Raw ();
use Tether::X ();

my %SET = (
    server_no_context_takeover => \&Tether::Raw::tether_pmd_set_server_no_context_takeover,
    client_no_context_takeover => \&Tether::Raw::tether_pmd_set_client_no_context_takeover,
    server_max_window_bits     => \&Tether::Raw::tether_pmd_set_server_max_window_bits,
    client_max_window_bits     => \&Tether::Raw::tether_pmd_set_client_max_window_bits,
    level                      => \&Tether::Raw::tether_pmd_set_level,
    mem_level                  => \&Tether::Raw::tether_pmd_set_mem_level,
    max_decompressed           => \&Tether::Raw::tether_pmd_set_max_decompressed,
);

sub new {
    my ($class, %a) = @_;
    my $pmd = Tether::Raw::tether_pmd_new(Tether::Frame::role_value(delete $a{role}))
      or Tether::X::System->throw('tether_pmd_new failed');
    my $self = bless { pmd => $pmd }, $class;
    for my $k (sort keys %a) {
        my $set = $SET{$k} or Tether::X::Usage->throw("unknown permessage-deflate option '$k'");
        my $rc = $set->($pmd, $a{$k});
        Tether::X::throw_code($rc, message => "$k: " . Tether::Raw::tether_strerror($rc))
          if $rc < 0;
    }
    return $self;
}

sub _check {
    my ($rc) = @_;
    Tether::X::throw_code($rc, close_code => Tether::Raw::tether_error_close_code($rc) || undef)
      if $rc < 0;
}

# Client: the offer for Sec-WebSocket-Extensions.
sub offer {
    my ($self) = @_;
    my ($rc, $text) = Tether::Raw::tether_pmd_offer($self->{pmd});
    _check($rc);
    return $text;
}

# Client: the server's answer (undef: it declined).
sub accept {
    my ($self, $response) = @_;
    _check(Tether::Raw::tether_pmd_accept($self->{pmd}, $response));
    return $self->enabled;
}

# Server: the client's offers; returns the response value, or undef when
# no offer is acceptable.
sub negotiate {
    my ($self, $offers) = @_;
    my ($rc, $text) = Tether::Raw::tether_pmd_negotiate($self->{pmd}, $offers);
    _check($rc);
    return $rc == 1 ? $text : undef;
}

sub enabled { Tether::Raw::tether_pmd_enabled($_[0]{pmd}) }

sub parameters {
    my ($self) = @_;
    my $p = $self->{pmd};
    return {
        server_no_context_takeover => Tether::Raw::tether_pmd_server_no_context_takeover($p),
        client_no_context_takeover => Tether::Raw::tether_pmd_client_no_context_takeover($p),
        server_max_window_bits     => Tether::Raw::tether_pmd_server_max_window_bits($p),
        client_max_window_bits     => Tether::Raw::tether_pmd_client_max_window_bits($p),
    };
}

# A whole message, compressed (send it with RSV1 on its first frame).
sub compress {
    my ($self, $bytes) = @_;
    my ($rc, $out) = Tether::Raw::tether_pmd_compress($self->{pmd}, $bytes, 1);
    _check($rc);
    return $out;
}

# A whole received message's payload (all its frames joined), inflated.
sub decompress {
    my ($self, $bytes) = @_;
    my ($rc, $out) = Tether::Raw::tether_pmd_decompress($self->{pmd}, $bytes, 1);
    if ($rc < 0) {
        Tether::Raw::tether_pmd_reset_inflate($self->{pmd});
        _check($rc);
    }
    return $out // '';
}

sub DESTROY {
    my ($self) = @_;
    warn "Tether::Deflate destroyed at global destruction; memory leak likely\n"
      if ${^GLOBAL_PHASE} eq 'DESTRUCT';
    Tether::Raw::tether_pmd_free(delete $self->{pmd}) if $self->{pmd};
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Deflate - permessage-deflate (RFC 7692) for people with their own I/O

=head1 SYNOPSIS

    use Tether::Deflate;
    use Tether::Frame;
    use Tether::Parser;

    my $client = Tether::Deflate->new(role => 'client', client_max_window_bits => 12);
    my $server = Tether::Deflate->new(role => 'server');

    # The handshake: the client offers, the server answers, the client checks.
    my $answer = $server->negotiate($client->offer);
    $client->accept($answer);

    # A compressed message: RSV1 on its (first) frame.
    my $wire = Tether::Frame->new(type => 'text', rsv => 4,
        payload => $client->compress('hello ' x 100))->to_bytes('client');

    my $parser = Tether::Parser->new(role => 'server', deflate => $server);
    $parser->feed($wire);
    my $frame = $parser->next_frame;                       # RSV1: compressed
    print length($server->decompress($frame->payload)), "\n";    # 600

=head1 DESCRIPTION

One connection's permessage-deflate state: preferences, the negotiation,
then compressing what is sent and inflating what is received, with a cap
on the inflated size (a deflate bomb is refused, never inflated:
L<Tether::X::Protocol> with C<close_code> 1009).

=head1 METHODS

=over

=item C<< new(role => 'client'|'server', %preferences) >> - preferences:
C<server_no_context_takeover>, C<client_no_context_takeover>,
C<server_max_window_bits>, C<client_max_window_bits> (9..15), C<level>
(0..9), C<mem_level> (1..9), C<max_decompressed> (bytes, default 16 MiB).

=item C<offer> (client) - the Sec-WebSocket-Extensions value to send.

=item C<accept($response)> (client) - checks the server's answer (undef:
declined); returns whether compression is on. Throws
L<Tether::X::Handshake> for an answer the RFC says to fail on.

=item C<negotiate($offers)> (server) - the answer to put in the response,
or undef when no offer is acceptable.

=item C<enabled>, C<parameters> - whether it is on, and the parameters in
force.

=item C<compress($bytes)>, C<decompress($bytes)> - a whole message.

=back

=cut
