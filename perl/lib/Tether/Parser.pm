package Tether::Parser;

use strict;
use warnings;

use Tether::Frame ();
use Tether::Raw ();
use Tether::X ();

my $NEED_MORE   = $Tether::Raw::TETHER_PARSE_NEED_MORE;
my $FRAME_START = $Tether::Raw::TETHER_PARSE_FRAME_START;
my $PAYLOAD     = $Tether::Raw::TETHER_PARSE_PAYLOAD;
my $FRAME_END   = $Tether::Raw::TETHER_PARSE_FRAME_END;
my $OP_CLOSE    = $Tether::Raw::TETHER_OP_CLOSE;
my $OP_CONT     = $Tether::Raw::TETHER_OP_CONTINUATION;
my $OP_TEXT     = $Tether::Raw::TETHER_OP_TEXT;

sub new {
    my ($class, %a) = @_;
    my $p = Tether::Raw::tether_parser_new(Tether::Frame::role_value($a{role}))
      or Tether::X::System->throw('tether_parser_new failed');
    my $self = bless { p => $p, buf => '', frame => undef, deflate => $a{deflate} }, $class;
    if (defined $a{max_frame}) {
        my $rc = Tether::Raw::tether_parser_set_max_frame($p, $a{max_frame});
        Tether::X::throw_code($rc) if $rc < 0;
    }
    my $rsv = $a{rsv_allowed} // ($a{deflate} ? $Tether::Raw::TETHER_RSV1 : 0);
    Tether::Raw::tether_parser_set_rsv_allowed($p, $rsv) if $rsv;
    Tether::Raw::tether_parser_set_utf8_check($p, $a{utf8_check} ? 1 : 0)
      if exists $a{utf8_check};
    return $self;
}

sub feed {
    my ($self, $bytes) = @_;
    utf8::downgrade($bytes, 1)
      or Tether::X::Usage->throw('feed() wants bytes: characters above 255 found');
    $self->{buf} .= $bytes;
    return;
}

sub buffered { length $_[0]{buf} }

sub _fail {
    my ($self, $rc) = @_;
    my $text = Tether::Raw::tether_parser_error_text($self->{p});
    Tether::X::throw_code($rc,
        message    => $text // Tether::Raw::tether_strerror($rc),
        close_code => Tether::Raw::tether_error_close_code($rc));
}

# The next complete frame (a Tether::Frame), or undef when more input is
# needed. Throws Tether::X::Protocol (with close_code) on a protocol error.
sub next_frame {
    my ($self) = @_;
    my $p = $self->{p};
    while (1) {
        my ($ev, $used, $data) = Tether::Raw::tether_parser_next($p, $self->{buf});
        substr($self->{buf}, 0, $used, '') if $used;
        $self->_fail($ev) if $ev < 0;
        if ($ev == $NEED_MORE) {
            return undef;
        }
        elsif ($ev == $FRAME_START) {
            $self->{frame} = {
                opcode  => Tether::Raw::tether_parser_opcode($p),
                fin     => Tether::Raw::tether_parser_fin($p),
                rsv     => Tether::Raw::tether_parser_rsv($p),
                masked  => Tether::Raw::tether_parser_masked($p),
                message => Tether::Raw::tether_parser_message_opcode($p),
                payload => '',
            };
        }
        elsif ($ev == $PAYLOAD) {
            $self->{frame}{payload} .= $data;
        }
        elsif ($ev == $FRAME_END) {
            my $f = delete $self->{frame};
            my $frame = Tether::Frame->new(
                opcode  => $f->{opcode},
                payload => $f->{payload},
                fin     => $f->{fin},
                rsv     => $f->{rsv},
            );
            $frame->{masked}         = $f->{masked};
            $frame->{message_opcode} = $f->{message};
            if ($f->{opcode} == $OP_CLOSE) {
                $frame->{close_code} = Tether::Raw::tether_parser_close_code($p);
                my $reason = Tether::Raw::tether_parser_close_reason($p) // '';
                utf8::decode($reason);
                $frame->{close_reason} = $reason;
            }
            return $frame;
        }
    }
}

sub reset {
    my ($self) = @_;
    Tether::Raw::tether_parser_reset($self->{p});
    $self->{buf} = '';
    delete @$self{qw(frame message)};
    return;
}

sub DESTROY {
    my ($self) = @_;
    warn "Tether::Parser destroyed at global destruction; memory leak likely\n"
      if ${^GLOBAL_PHASE} eq 'DESTRUCT';
    Tether::Raw::tether_parser_free(delete $self->{p}) if $self->{p};
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Parser - an incremental WebSocket frame parser (sans-I/O)

=head1 SYNOPSIS

    use Tether::Frame;
    use Tether::Parser;

    my $parser = Tether::Parser->new(role => 'server');   # frames from clients

    my $wire = Tether::Frame->new(type => 'text', payload => 'Hel', fin => 0)->to_bytes('client')
             . Tether::Frame->new(type => 'continuation', payload => 'lo')->to_bytes('client')
             . Tether::Frame->close(1000, 'bye')->to_bytes('client');

    # Bytes may arrive split anywhere:
    $parser->feed($_) for unpack '(a5)*', $wire;

    while (my $frame = $parser->next_frame) {
        if ($frame->type eq 'close') {
            print "close ", $frame->close_code, "\n";
        } else {
            print $frame->type, ": ", $frame->payload, "\n";    # text: Hel, then continuation: lo
        }
    }

=head1 DESCRIPTION

Parses the frames one side of a connection receives, enforcing every
receive rule of RFC 6455 for its role: masking, reserved opcodes and RSV
bits, minimal lengths, control-frame rules, message sequencing, close
payloads, and UTF-8 of text across fragments. A violation throws
L<Tether::X::Protocol> whose C<close_code> is the code to close with (1002,
1007 or 1009) and whose C<message> says what was wrong.

It works frame by frame. Whole messages (fragments joined, inflated, the
closing handshake and keepalive answered) are the job of
L<Tether::Connection>, the library's WebSocket engine without I/O.

=head1 METHODS

=over

=item C<< new(role => 'client'|'server', max_frame => $bytes, rsv_allowed => $bits, utf8_check => 1, deflate => $tether_deflate) >>

C<role> is the side that I<receives>. With C<deflate> (a negotiated
L<Tether::Deflate>), RSV1 is allowed on a message's first frame (inflate
the joined payload with the deflate object).

=item C<feed($bytes)> - add received bytes.

=item C<next_frame> - the next complete L<Tether::Frame> (payload
unmasked), or C<undef> if more bytes are needed.

=item C<buffered> - bytes fed and not parsed yet; C<reset> - start over.

=back

=cut
