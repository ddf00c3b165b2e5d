package Tether::Frame;

use strict;
use warnings;

use Tether::Raw ();
use Tether::X ();

my %OPCODE = (
    continuation => $Tether::Raw::TETHER_OP_CONTINUATION,
    text         => $Tether::Raw::TETHER_OP_TEXT,
    binary       => $Tether::Raw::TETHER_OP_BINARY,
    close        => $Tether::Raw::TETHER_OP_CLOSE,
    ping         => $Tether::Raw::TETHER_OP_PING,
    pong         => $Tether::Raw::TETHER_OP_PONG,
);
my %TYPE = reverse %OPCODE;

my %ROLE = (
    client => $Tether::Raw::TETHER_ROLE_CLIENT,
    server => $Tether::Raw::TETHER_ROLE_SERVER,
);

sub role_value {
    my ($role) = @_;
    my $r = $ROLE{ $role // '' };
    Tether::X::Usage->throw("role must be 'client' or 'server'") unless defined $r;
    return $r;
}

sub opcode_of { $OPCODE{ $_[0] } }
sub type_of   { $TYPE{ $_[0] } }

my %NEW_KEYS = map { $_ => 1 }
  qw(type opcode payload buffer masked fin rsv close_code close_reason);

sub new {
    my ($class, @args) = @_;
    Tether::X::Usage->throw('Tether::Frame->new takes key => value pairs (type => ..., payload => ...)')
      if @args % 2;
    my %a = @args;
    for (sort keys %a) {
        Tether::X::Usage->throw("Tether::Frame->new: unknown argument '$_' (known: "
              . join(', ', sort keys %NEW_KEYS) . ')')
          unless $NEW_KEYS{$_};
    }
    # Protocol::WebSocket's names: buffer for the payload, masked => 1 for
    # a client's frame (what to_bytes makes when not told a role)
    Tether::X::Usage->throw('Tether::Frame->new: payload and buffer are the same; give one')
      if defined $a{payload} && defined $a{buffer};
    $a{payload} //= delete $a{buffer};
    my $type = $a{type} // (defined $a{opcode} ? $TYPE{ $a{opcode} } : undef);
    Tether::X::Usage->throw('type => text|binary|continuation|close|ping|pong')
      unless defined $type && exists $OPCODE{$type};
    my $payload = $a{payload} // '';
    utf8::downgrade($payload, 1)
      or Tether::X::Usage->throw('a frame payload is bytes: characters above 255 found');
    return bless {
        type    => $type,
        opcode  => $OPCODE{$type},
        payload => $payload,
        fin     => $a{fin} // 1,
        rsv     => $a{rsv} // 0,
        role    => $a{masked} ? 'client' : 'server',
        (defined $a{close_code} ? (close_code => $a{close_code}, close_reason => $a{close_reason})
            : ()),
    }, $class;
}

sub text {
    my ($class, $chars, %a) = @_;
    my $bytes = $chars;
    utf8::encode($bytes);
    return $class->new(%a, type => 'text', payload => $bytes);
}

sub binary { my ($class, $bytes, %a) = @_; $class->new(%a, type => 'binary', payload => $bytes) }
sub ping   { my ($class, $bytes) = @_; $class->new(type => 'ping', payload => $bytes) }
sub pong   { my ($class, $bytes) = @_; $class->new(type => 'pong', payload => $bytes) }

sub close {
    my ($class, $code, $reason) = @_;
    my $payload = build_close_payload($code // 0, $reason // '');
    return $class->new(type => 'close', payload => $payload, close_code => $code,
        close_reason => $reason // '');
}

sub type       { $_[0]{type} }
sub opcode     { $_[0]{opcode} }
sub payload    { $_[0]{payload} }
sub fin        { $_[0]{fin} }
sub rsv        { $_[0]{rsv} }
sub is_control { $_[0]{opcode} >= 8 }
sub is_text    { $_[0]{type} eq 'text' }

# The payload of a text frame or message, as characters.
sub characters {
    my ($self) = @_;
    my $s = $self->{payload};
    utf8::decode($s) or Tether::X::Protocol->throw(message => 'invalid UTF-8', close_code => 1007);
    return $s;
}

sub close_code   { $_[0]{close_code} }
sub close_reason { $_[0]{close_reason} }

# The frame on the wire: masked with a fresh random key for a client, not for
# a server.
sub to_bytes {
    my ($self, $role) = @_;
    my $len = length $self->{payload};
    my $r   = role_value($role // $self->{role} // 'server');
    my $cap = Tether::Raw::tether_frame_header_size($len, $r == $ROLE{client} ? 1 : 0) + $len;
    my ($rc, $bytes) = Tether::Raw::tether_frame_write($r, $self->{opcode}, $self->{fin} ? 1 : 0,
        $self->{rsv}, $self->{payload}, $cap);
    Tether::X::throw_code($rc) if $rc < 0;
    return $bytes;
}

# ---- Helpers ---------------------------------------------------------------

sub build_close_payload {
    my ($code, $reason) = @_;
    $reason //= '';
    utf8::encode($reason);
    my ($rc, $bytes) = Tether::Raw::tether_close_build($code, $reason,
        2 + $Tether::Raw::TETHER_MAX_CLOSE_REASON + 1);
    Tether::X::throw_code($rc, message => "bad close frame ($code): " . Tether::Raw::tether_strerror($rc))
      if $rc < 0;
    return $bytes;
}

sub parse_close_payload {
    my ($payload) = @_;
    my ($rc, $code, $reason) = Tether::Raw::tether_close_parse($payload);
    Tether::X::throw_code($rc, close_code => Tether::Raw::tether_error_close_code($rc)) if $rc < 0;
    utf8::decode($reason);
    return ($code, $reason);
}

sub mask {
    my ($bytes, $key, $offset) = @_;
    my ($rc, $out) = Tether::Raw::tether_mask($bytes, $key, $offset // 0);
    Tether::X::throw_code($rc) if $rc < 0;
    return $out;
}

sub utf8_valid { Tether::Raw::tether_utf8_validate($_[0]) == 0 ? 1 : 0 }

sub header_size { Tether::Raw::tether_frame_header_size($_[0], $_[1] ? 1 : 0) }

1;

__END__

=encoding utf8

=head1 NAME

Tether::Frame - WebSocket frames: build them, and what the parser returns

=head1 SYNOPSIS

    use Tether::Frame;

    my $bytes = Tether::Frame->text("caf\x{e9}")->to_bytes('client');   # masked
    my $bye   = Tether::Frame->close(1000, 'bye')->to_bytes('server');
    my $part  = Tether::Frame->new(type => 'binary', payload => "\x01", fin => 0)
                             ->to_bytes('server');

    my ($code, $reason) = Tether::Frame::parse_close_payload("\x03\xe8ok");
    print Tether::Frame::utf8_valid("\xc3\x28") ? "valid\n" : "invalid\n";

=head1 DESCRIPTION

Part of the sans-I/O layer (with L<Tether::Parser>,
L<Tether::Handshake::Client>, L<Tether::Handshake::Server> and
L<Tether::Deflate>): nothing here does I/O.

=head1 CONSTRUCTORS

=over

=item C<< new(type => $type, payload => $bytes, fin => 1, rsv => 0) >> -
C<$type> is C<text>, C<binary>, C<continuation>, C<close>, C<ping> or
C<pong>; the payload is bytes (L<Tether::X::Usage> for characters above
255). Protocol::WebSocket's names work too: C<buffer> for the payload,
C<< masked => 1 >> for a client's (masked) frame, which C<to_bytes> then
makes when not given a role. Any other argument dies with
L<Tether::X::Usage> naming it.

=item C<text($characters)> (encoded as UTF-8), C<binary($bytes)>,
C<ping($bytes)>, C<pong($bytes)>, C<close($code, $reason)> (C<$code> 0 or
undef: an empty close payload).

=back

=head1 METHODS

=over

=item C<to_bytes($role)> - the frame on the wire: a C<client> frame is
masked with a fresh key from the system's CSPRNG, a C<server> frame is not.
Rules are checked (control frames: C<fin> and at most 125 bytes).

=item C<type>, C<opcode>, C<payload>, C<fin>, C<rsv>, C<is_control>,
C<is_text>, C<characters> (a text payload decoded), and for close frames
C<close_code> (1005 when the frame had none) and C<close_reason>.

=back

=head1 FUNCTIONS

C<build_close_payload($code, $reason)>,
C<parse_close_payload($payload)> (returns C<($code, $reason)>; throws
L<Tether::X::Protocol> for an invalid one), C<mask($bytes, $key4 [,
$offset])>, C<utf8_valid($bytes)> (strict, as RFC 6455 wants),
C<header_size($length, $masked)>.

=cut
