package Tether;

use strict;
use warnings;

use Tether::Raw ();

our $VERSION = '0.01';

use Exporter 'import';

# Every constant comes from the C header through Tether::Raw: nothing is
# written down twice.
my %CLOSE = (
    CLOSE_STATUS_NORMAL               => 'TETHER_CLOSE_NORMAL',
    CLOSE_STATUS_GOINGAWAY            => 'TETHER_CLOSE_GOING_AWAY',
    CLOSE_STATUS_PROTOCOL_ERR         => 'TETHER_CLOSE_PROTOCOL_ERROR',
    CLOSE_STATUS_UNACCEPTABLE_OPCODE  => 'TETHER_CLOSE_UNSUPPORTED_DATA',
    CLOSE_STATUS_NO_STATUS            => 'TETHER_CLOSE_NO_STATUS',
    CLOSE_STATUS_ABNORMAL_CLOSE       => 'TETHER_CLOSE_ABNORMAL',
    CLOSE_STATUS_INVALID_PAYLOAD      => 'TETHER_CLOSE_INVALID_PAYLOAD',
    CLOSE_STATUS_POLICY_VIOLATION     => 'TETHER_CLOSE_POLICY_VIOLATION',
    CLOSE_STATUS_MESSAGE_TOO_LARGE    => 'TETHER_CLOSE_MESSAGE_TOO_BIG',
    CLOSE_STATUS_EXTENSION_REQUIRED   => 'TETHER_CLOSE_MANDATORY_EXTENSION',
    CLOSE_STATUS_UNEXPECTED_CONDITION => 'TETHER_CLOSE_INTERNAL_ERROR',
    CLOSE_STATUS_SERVICE_RESTART      => 'TETHER_CLOSE_SERVICE_RESTART',
    CLOSE_STATUS_TRY_AGAIN_LATER      => 'TETHER_CLOSE_TRY_AGAIN_LATER',
    CLOSE_STATUS_BAD_GATEWAY          => 'TETHER_CLOSE_BAD_GATEWAY',
    CLOSE_STATUS_TLS                  => 'TETHER_CLOSE_TLS_HANDSHAKE',
);
my %WS = (
    WS_OK                       => 'TETHER_CLOSE_NORMAL',
    WS_GONE                     => 'TETHER_CLOSE_GOING_AWAY',
    WS_PROTOCOL_ERROR           => 'TETHER_CLOSE_PROTOCOL_ERROR',
    WS_NOT_ACCEPTABLE           => 'TETHER_CLOSE_UNSUPPORTED_DATA',
    WS_NO_STATUS                => 'TETHER_CLOSE_NO_STATUS',
    WS_CLOSED_ABNORMALLY        => 'TETHER_CLOSE_ABNORMAL',
    WS_BAD_MESSAGE              => 'TETHER_CLOSE_INVALID_PAYLOAD',
    WS_FORBIDDEN                => 'TETHER_CLOSE_POLICY_VIOLATION',
    WS_MESSAGE_TOO_LARGE        => 'TETHER_CLOSE_MESSAGE_TOO_BIG',
    WS_EXTENSIONS_NOT_AVAILABLE => 'TETHER_CLOSE_MANDATORY_EXTENSION',
    WS_INTERNAL_SERVER_ERROR    => 'TETHER_CLOSE_INTERNAL_ERROR',
    WS_SERVICE_RESTART          => 'TETHER_CLOSE_SERVICE_RESTART',
    WS_TRY_AGAIN_LATER          => 'TETHER_CLOSE_TRY_AGAIN_LATER',
    WS_BAD_GATEWAY              => 'TETHER_CLOSE_BAD_GATEWAY',
    WS_TLS_HANDSHAKE_FAIL       => 'TETHER_CLOSE_TLS_HANDSHAKE',
);
my %LOG = map { ("LOG_$_" => "TETHER_LOG_$_") } qw(NONE ERROR WARN NOTICE INFO DEBUG);
my %TLS = (
    TLS_ALLOW_SELFSIGNED    => 'TETHER_TLS_ALLOW_SELFSIGNED',
    TLS_SKIP_HOSTNAME_CHECK => 'TETHER_TLS_SKIP_HOSTNAME_CHECK',
    TLS_ALLOW_EXPIRED       => 'TETHER_TLS_ALLOW_EXPIRED',
    TLS_INSECURE            => 'TETHER_TLS_INSECURE',
);

my %all = (%CLOSE, %WS, %LOG, %TLS);
for my $name (keys %all) {
    no strict 'refs';
    my $value = ${"Tether::Raw::$all{$name}"};
    die "Tether: the C header lacks $all{$name}" unless defined $value;
    *{$name} = sub () { $value };
}

# Net::Libwebsockets' names. LLL_*: log categories to OR together for
# set_log_level (their values are ours, above 255, so that a mask is told
# from a LOG_* level); LCCSCF_*: TLS relaxations to OR together for
# tls => MASK, with libwebsockets' values.
my %LLL;
{
    my $bit = 256;
    for (qw(ERR WARN NOTICE INFO DEBUG PARSER HEADER EXT CLIENT LATENCY USER THREAD)) {
        my $v = $bit;
        $LLL{"LLL_$_"} = $v;
        no strict 'refs';
        *{"LLL_$_"} = sub () { $v };
        $bit <<= 1;
    }
}
my %LCCSCF = (
    LCCSCF_USE_SSL                         => 1,
    LCCSCF_ALLOW_SELFSIGNED                => 2,
    LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK => 4,
    LCCSCF_ALLOW_EXPIRED                   => 8,
    LCCSCF_ALLOW_INSECURE                  => 16,
);
for my $name (keys %LCCSCF) {
    my $v = $LCCSCF{$name};
    no strict 'refs';
    *{$name} = sub () { $v };
}

# tls => MASK (LCCSCF_*) as the TETHER_TLS_* flags (LCCSCF_USE_SSL: the
# URL's scheme says that).
sub _lccscf_flags {
    my ($mask) = @_;
    my $f = 0;
    $f |= TLS_ALLOW_SELFSIGNED()    if $mask & 2;
    $f |= TLS_SKIP_HOSTNAME_CHECK() if $mask & 4;
    $f |= TLS_ALLOW_EXPIRED()       if $mask & 8;
    $f |= TLS_INSECURE()            if $mask & 16;
    return $f;
}

my $features = Tether::Raw::tether_features();
my $has_pmd  = ($features & $Tether::Raw::TETHER_FEATURE_DEFLATE) ? 1 : 0;
my $has_tls  = ($features & $Tether::Raw::TETHER_FEATURE_TLS) ? 1 : 0;
sub HAS_PMD () { $has_pmd }
sub HAS_TLS () { $has_tls }

our %EXPORT_TAGS = (
    close     => [ sort keys %CLOSE ],
    ws        => [ sort keys %WS ],
    log       => [ sort keys %LOG ],
    tls       => [ sort keys %TLS ],
    lll       => [ sort keys %LLL ],
    lccscf    => [ sort keys %LCCSCF ],
    features  => [qw(HAS_PMD HAS_TLS)],
    functions => [qw(set_log_level set_log_callback version strerror)],
);
our @EXPORT_OK = map { @$_ } values %EXPORT_TAGS;
$EXPORT_TAGS{all} = [@EXPORT_OK];

sub set_log_level {
    my ($level) = @_;
    $level = _lll_level($level) if defined $level && $level =~ /^\d+$/ && $level >= 256;
    my $rc = Tether::Raw::tether_set_log_level($level);
    if ($rc < 0) {
        require Tether::X;
        Tether::X::Usage->throw("log level $level is not between LOG_NONE and LOG_DEBUG");
    }
    return;
}

# An LLL_* mask as the one level that shows what it asks for: the most
# detailed category in it (anything past INFO is DEBUG here).
sub _lll_level {
    my ($mask) = @_;
    return LOG_DEBUG()  if $mask >= $LLL{LLL_DEBUG};
    return LOG_INFO()   if $mask & $LLL{LLL_INFO};
    return LOG_NOTICE() if $mask & $LLL{LLL_NOTICE};
    return LOG_WARN()   if $mask & $LLL{LLL_WARN};
    return LOG_ERROR()  if $mask & $LLL{LLL_ERR};
    return LOG_NONE();
}

sub set_log_callback {
    my ($cb) = @_;
    if (defined $cb && ref $cb ne 'CODE') {
        require Tether::X;
        Tether::X::Usage->throw('set_log_callback wants a code reference or undef');
    }
    Tether::Raw::tether_set_log_callback($cb);
    return;
}

sub version { Tether::Raw::tether_version() }

sub strerror { Tether::Raw::tether_strerror($_[0]) }

1;

__END__

=encoding utf8

=head1 NAME

Tether - WebSocket clients and servers for Perl, on the tether C library

=head1 SYNOPSIS

    use AnyEvent;
    use Tether qw(:close :log HAS_PMD);
    use Tether::Client;

    Tether::set_log_level(LOG_WARN);
    Tether::set_log_callback(sub {
        my ($level, $line) = @_;
        print STDERR "tether[$level]: $line\n";
    });

    my $cv = AE::cv();
    my $done = Tether::Client::connect(
        url         => 'ws://127.0.0.1:9000/',
        event       => 'AnyEvent',
        compression => HAS_PMD,
        on_ready    => sub {
            my ($courier) = @_;
            $courier->on_text(sub {
                my ($text) = @_;
                $courier->close(CLOSE_STATUS_NORMAL, 'thanks');
            });
            $courier->send_text('hello');
        },
    );
    $done->cb(sub {
        my ($code, $reason) = @{ $_[0]->recv };
        $cv->send;
    });
    $cv->recv;
    Tether::set_log_callback(undef);

=head1 DESCRIPTION

Tether is the Perl binding of B<tether>, a WebSocket library in C
(RFC 6455 and RFC 7692 permessage-deflate) for clients and servers. The
distribution has three layers:

=over

=item * L<Tether::Raw>, the C API itself, generated by SWIG from
F<tether.h>;

=item * an event-driven API in the shape of L<Net::Libwebsockets>, with
servers added: L<Tether::Client>, L<Tether::Server> and the
L<Tether::Courier> each connection gets. It runs on L<AnyEvent>,
L<IO::Async> or L<Mojolicious>;

=item * a blocking API for scripts without an event loop:
L<Tether::Blocking::Client> and L<Tether::Blocking::Server>;

=item * the sans-I/O protocol layer for people who do their own I/O:
L<Tether::Frame>, L<Tether::Parser>, L<Tether::Handshake::Client>,
L<Tether::Handshake::Server>, L<Tether::Deflate>.

=back

Errors are exception objects, one class per kind (L<Tether::X>).

=head1 CONSTANTS

Nothing is exported by default; ask for names or tags.

=over

=item C<:close> - close codes, named as in L<Net::Libwebsockets>:
C<CLOSE_STATUS_NORMAL> (1000), C<CLOSE_STATUS_GOINGAWAY> (1001),
C<CLOSE_STATUS_PROTOCOL_ERR> (1002), C<CLOSE_STATUS_UNACCEPTABLE_OPCODE>
(1003), C<CLOSE_STATUS_NO_STATUS> (1005), C<CLOSE_STATUS_ABNORMAL_CLOSE>
(1006), C<CLOSE_STATUS_INVALID_PAYLOAD> (1007),
C<CLOSE_STATUS_POLICY_VIOLATION> (1008), C<CLOSE_STATUS_MESSAGE_TOO_LARGE>
(1009), C<CLOSE_STATUS_EXTENSION_REQUIRED> (1010),
C<CLOSE_STATUS_UNEXPECTED_CONDITION> (1011), C<CLOSE_STATUS_SERVICE_RESTART>
(1012), C<CLOSE_STATUS_TRY_AGAIN_LATER> (1013), C<CLOSE_STATUS_BAD_GATEWAY>
(1014), C<CLOSE_STATUS_TLS> (1015).

=item C<:ws> - the same codes with the names of the L<WebSocket>
distribution: C<WS_OK>, C<WS_GONE>, C<WS_PROTOCOL_ERROR>,
C<WS_NOT_ACCEPTABLE>, C<WS_NO_STATUS>, C<WS_CLOSED_ABNORMALLY>,
C<WS_BAD_MESSAGE>, C<WS_FORBIDDEN>, C<WS_MESSAGE_TOO_LARGE>,
C<WS_EXTENSIONS_NOT_AVAILABLE>, C<WS_INTERNAL_SERVER_ERROR>,
C<WS_SERVICE_RESTART>, C<WS_TRY_AGAIN_LATER>, C<WS_BAD_GATEWAY>,
C<WS_TLS_HANDSHAKE_FAIL>.

=item C<:log> - log levels for C<set_log_level>: C<LOG_NONE>,
C<LOG_ERROR>, C<LOG_WARN>, C<LOG_NOTICE>, C<LOG_INFO>, C<LOG_DEBUG>.

=item C<:tls> - relaxations of a client's certificate checks, to OR
together in C<< tls => { flags => ... } >>: C<TLS_ALLOW_SELFSIGNED>,
C<TLS_SKIP_HOSTNAME_CHECK>, C<TLS_ALLOW_EXPIRED>, C<TLS_INSECURE>. For
tests and private networks only.

=item C<:lll>, C<:lccscf> - Net::Libwebsockets' names: the C<LLL_*> log
categories (C<LLL_ERR>, C<LLL_WARN>, C<LLL_NOTICE>, C<LLL_INFO>,
C<LLL_DEBUG>, C<LLL_PARSER>...), ORed together for C<set_log_level> (the
most detailed one in the mask sets the level; those past C<LLL_INFO> mean
C<LOG_DEBUG>); the C<LCCSCF_*> TLS flags with libwebsockets' values, ORed
together for C<< tls => ... >> on a client.

=item C<:features> - C<HAS_PMD> is true when the library was built with
permessage-deflate (compression), C<HAS_TLS> when it has C<wss://>.

=item C<:all> - everything above and the functions below.

=back

=head1 FUNCTIONS

=head2 set_log_level( $LEVEL )

The most verbose level the library reports, process-wide (default
C<LOG_NONE>: it writes nothing). Throws L<Tether::X::Usage> for a level
outside C<LOG_NONE>..C<LOG_DEBUG>.

=head2 set_log_callback( $CODE_REF )

Sends each log line to C<< $CODE_REF->($level, $line) >> instead of
standard error; C<undef> goes back to standard error. The sub runs in
the middle of the library's work: it must not call back into tether, and
if it dies the error is turned into a warning.

=head2 version()

The version of the C library loaded, e.g. C<0.1.0>.

=head2 strerror( $CODE )

The text of a C<TETHER_E_*> error code.

=head1 PROMISES

L<Tether::Client/connect> (and L<Tether::Courier/done>) return the loop's
own kind of promise, so that no promise library is needed:

    event         returns                 wait with
    AnyEvent      AnyEvent::CondVar       $cv->recv, $cv->cb(sub { ... })
    IO::Async     Future (from the loop)  $f->get, $f->then(...), $loop->await($f)
    Mojolicious   Mojo::Promise           ->then(...), ->catch(...), ->wait

It resolves with C<[code, reason]> when the closing handshake completes
with 1000 or 1005, and rejects with a L<Tether::X> object otherwise.

=head1 HOW IT RUNS

Each event loop drives tether as a foreign loop: the context's descriptor
(C<tether_ctx_fd>) is watched for reading, a timer follows
C<tether_ctx_timeout>, and C<tether_ctx_service> runs when either fires;
events are taken in poll mode, a batch at a time, so Perl is never called
from inside the C library (except the log callback). The clients of one
loop share a context; each server has its own. The blocking API waits in
C<tether_next_event>.

Contexts belong to the process and thread that made them: after C<fork>,
make new clients and servers in the child (and leave with
C<POSIX::_exit> rather than C<exit> if it holds the parent's objects);
Perl threads are not supported.

=head1 MEMORY LEAK DETECTION

As in L<Net::Libwebsockets>, the objects of this distribution that hold C
resources (contexts, connections, servers, parsers) warn when they are
destroyed at global destruction: that usually means a leak (a reference
cycle) or an object kept in a global. Clear globals in an C<END> block to
silence the second case.

=head1 SEE ALSO

L<Tether::Client>, L<Tether::Server>, L<Tether::Blocking::Client>,
L<Tether::X>, L<Tether::Raw>.

=cut
