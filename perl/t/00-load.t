use strict;
use warnings;
use Test::More;

my @modules = qw(
  Tether Tether::Raw Tether::X Tether::Options Tether::Loop Tether::Context Tether::Courier
  Tether::Client Tether::Server Tether::Request
  Tether::Blocking::Context Tether::Blocking::Connection Tether::Blocking::Client
  Tether::Blocking::Server
  Tether::Frame Tether::Parser Tether::Deflate Tether::Handshake::Client
  Tether::Handshake::Server
  Tether::Loop::AnyEvent Tether::Loop::IOAsync Tether::Loop::Mojo
);
require_ok($_) for @modules;

use Tether qw(:all);

like(Tether::version(), qr/^\d+\.\d+\.\d+$/, 'version of the C library');
is(Tether::version(), $Tether::Raw::TETHER_VERSION_STRING, 'library and header versions agree');

# Close codes under both naming schemes, from the header.
my %codes = (
    1000 => [qw(CLOSE_STATUS_NORMAL WS_OK)],
    1001 => [qw(CLOSE_STATUS_GOINGAWAY WS_GONE)],
    1002 => [qw(CLOSE_STATUS_PROTOCOL_ERR WS_PROTOCOL_ERROR)],
    1003 => [qw(CLOSE_STATUS_UNACCEPTABLE_OPCODE WS_NOT_ACCEPTABLE)],
    1005 => [qw(CLOSE_STATUS_NO_STATUS WS_NO_STATUS)],
    1006 => [qw(CLOSE_STATUS_ABNORMAL_CLOSE WS_CLOSED_ABNORMALLY)],
    1007 => [qw(CLOSE_STATUS_INVALID_PAYLOAD WS_BAD_MESSAGE)],
    1008 => [qw(CLOSE_STATUS_POLICY_VIOLATION WS_FORBIDDEN)],
    1009 => [qw(CLOSE_STATUS_MESSAGE_TOO_LARGE WS_MESSAGE_TOO_LARGE)],
    1010 => [qw(CLOSE_STATUS_EXTENSION_REQUIRED WS_EXTENSIONS_NOT_AVAILABLE)],
    1011 => [qw(CLOSE_STATUS_UNEXPECTED_CONDITION WS_INTERNAL_SERVER_ERROR)],
    1012 => [qw(CLOSE_STATUS_SERVICE_RESTART WS_SERVICE_RESTART)],
    1013 => [qw(CLOSE_STATUS_TRY_AGAIN_LATER WS_TRY_AGAIN_LATER)],
    1014 => [qw(CLOSE_STATUS_BAD_GATEWAY WS_BAD_GATEWAY)],
    1015 => [qw(CLOSE_STATUS_TLS WS_TLS_HANDSHAKE_FAIL)],
);
for my $code (sort keys %codes) {
    for my $name (@{ $codes{$code} }) {
        no strict 'refs';
        is(&{"Tether::$name"}(), $code, "$name is $code");
    }
}

{
    package Ws::Tag;
    use Tether qw(:ws);
    ::is(WS_OK, 1000, ':ws exports WS_OK');
    ::ok(!defined &Ws::Tag::CLOSE_STATUS_NORMAL, ':ws does not export CLOSE_STATUS_*');
}
{
    package No::Tag;
    use Tether;
    ::ok(!defined &No::Tag::WS_OK, 'nothing exported by default');
}

is(LOG_NONE, 0, 'LOG_NONE');
ok(LOG_ERROR < LOG_WARN && LOG_WARN < LOG_NOTICE && LOG_NOTICE < LOG_INFO && LOG_INFO < LOG_DEBUG,
    'log levels ordered');
is(TLS_ALLOW_SELFSIGNED | TLS_SKIP_HOSTNAME_CHECK | TLS_ALLOW_EXPIRED | TLS_INSECURE, 15,
    'TLS relax flags are distinct bits');
my $features = Tether::Raw::tether_features();
is(HAS_PMD, ($features & $Tether::Raw::TETHER_FEATURE_DEFLATE) ? 1 : 0, 'HAS_PMD from tether_features()');
is(HAS_TLS, ($features & $Tether::Raw::TETHER_FEATURE_TLS) ? 1 : 0, 'HAS_TLS from tether_features()');
is(Tether::strerror($Tether::Raw::TETHER_E_UTF8), Tether::Raw::tether_strerror(-110), 'strerror');

eval { Tether::set_log_level(99) };
isa_ok($@, 'Tether::X::Usage', 'bad log level');
eval { Tether::set_log_callback('not code') };
isa_ok($@, 'Tether::X::Usage', 'bad log callback');

done_testing;
