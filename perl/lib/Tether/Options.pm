package Tether::Options;

use strict;
use warnings;

use Scalar::Util ();
use Tether::Raw ();
use Tether::X ();

# Options every connection understands, client or server: name => setter.
my %TIMEOUT = (
    connect_timeout   => \&Tether::Raw::tether_opts_set_connect_timeout,
    handshake_timeout => \&Tether::Raw::tether_opts_set_handshake_timeout,
    close_timeout     => \&Tether::Raw::tether_opts_set_close_timeout,
    idle_timeout      => \&Tether::Raw::tether_opts_set_idle_timeout,
    ping_interval     => \&Tether::Raw::tether_opts_set_ping_interval,
    ping_timeout      => \&Tether::Raw::tether_opts_set_ping_timeout,
);
my %SIZE = (
    max_message      => \&Tether::Raw::tether_opts_set_max_message,
    max_frame        => \&Tether::Raw::tether_opts_set_max_frame,
    send_limit       => \&Tether::Raw::tether_opts_set_send_limit,
    drain_mark       => \&Tether::Raw::tether_opts_set_drain_mark,
    max_header_bytes => \&Tether::Raw::tether_opts_set_max_header_bytes,
    max_headers      => \&Tether::Raw::tether_opts_set_max_headers,
);
my %OTHER = map { $_ => 1 }
  qw(headers subprotocols tls compression origin reuseport http2 proxy reconnect);

sub names { (keys %TIMEOUT, keys %SIZE, keys %OTHER) }

my %TLS_KEYS = map { $_ => 1 }
  qw(ca_file ca_dir cert_file key_file server_name flags verify_client sni);
my %PMD_KEYS = map { $_ => 1 } qw(no_context_takeover window_bits level mem_level threshold);
my %RECONNECT_KEYS = map { $_ => 1 } qw(delay max_delay jitter max_tries steps);

# reconnect => 1: in the shape of Python websockets' connect(), a first
# delay of a few seconds, doubled at each attempt up to a minute, up to 20%
# more at random (so that clients a server dropped together do not all come
# back together), and no limit on the attempts.
our %RECONNECT_DEFAULTS = (delay => 2, max_delay => 60, jitter => 20, max_tries => 0);

sub _check {
    my ($rc, $what) = @_;
    return if $rc >= 0;
    Tether::X::throw_code($rc, message => "$what: " . Tether::Raw::tether_strerror($rc));
}

# Builds a tether_opts from the options in %$args (the keys it knows; the
# caller checks for unknown ones). Returns the SWIG pointer: free it with
# Tether::Raw::tether_opts_free after tether_connect / tether_listen, which
# copy it.
sub build {
    my ($class, $args, $role) = @_;
    my $o = Tether::Raw::tether_opts_new()
      or Tether::X::System->throw('tether_opts_new failed');
    my $ok = eval { _fill($o, $args, $role); 1 };
    if (!$ok) {
        my $err = $@;
        Tether::Raw::tether_opts_free($o);
        die $err;
    }
    return $o;
}

sub _fill {
    my ($o, $args, $role) = @_;
    for my $k (sort keys %TIMEOUT) {
        next unless defined $args->{$k};
        _check($TIMEOUT{$k}->($o, int($args->{$k} * 1000 + 0.5)), $k);
    }
    for my $k (sort keys %SIZE) {
        next unless defined $args->{$k};
        _check($SIZE{$k}->($o, $args->{$k}), $k);
    }
    if (my $h = $args->{headers}) {
        my @h = ref $h eq 'HASH' ? map { ($_, $h->{$_}) } sort keys %$h : @$h;
        Tether::X::Usage->throw('headers => [ name => value, ... ] needs pairs') if @h % 2;
        while (my ($n, $v) = splice @h, 0, 2) {
            _check(Tether::Raw::tether_opts_add_header($o, $n, $v), "header '$n'");
        }
    }
    for my $p (@{ $args->{subprotocols} || [] }) {
        _check(Tether::Raw::tether_opts_add_protocol($o, $p), "sub-protocol '$p'");
    }
    if (defined $args->{origin}) {
        _check(Tether::Raw::tether_opts_set_origin($o, $args->{origin}), 'origin');
    }
    if ($args->{reuseport}) {
        _check(Tether::Raw::tether_opts_set_reuseport($o, 1), 'reuseport');
    }
    if (defined $args->{http2}) { # a client prefers it, a server offers it
        my $set = ($role // '') eq 'client'
          ? \&Tether::Raw::tether_opts_set_prefer_http2 : \&Tether::Raw::tether_opts_set_http2;
        _check($set->($o, $args->{http2} ? 1 : 0), 'http2');
    }
    _proxy($o, $args->{proxy}, $role) if defined $args->{proxy};
    _reconnect($o, $args->{reconnect}, $role) if $args->{reconnect};
    _tls($o, $args->{tls}, $role) if $args->{tls};
    _compression($o, $args->{compression}) if $args->{compression};
    return;
}

# proxy => URL (http://, socks5://, socks5h://), or 'env' for the one the
# environment names (https_proxy, http_proxy, all_proxy, no_proxy, as curl).
sub _proxy {
    my ($o, $p, $role) = @_;
    Tether::X::Usage->throw('proxy is a client option') if ($role // '') ne 'client';
    if ($p eq 'env') {
        _check(Tether::Raw::tether_opts_set_proxy_from_env($o, 1), 'proxy');
        return;
    }
    my $rc = Tether::Raw::tether_opts_set_proxy($o, $p);
    Tether::X::Usage->throw("proxy '$p': only http://, socks5:// and socks5h:// proxies")
      if $rc == $Tether::Raw::TETHER_E_UNSUPPORTED;
    Tether::X::Usage->throw("proxy '$p': not a proxy URL") if $rc < 0;
    return;
}

# reconnect => 1, { delay => s, max_delay => s, jitter => %, max_tries => n }
# or [ s, s, ... ] (a table of delays; also { steps => [...], ... }).
sub _reconnect {
    my ($o, $r, $role) = @_;
    Tether::X::Usage->throw('reconnect is a client option') if ($role // '') ne 'client';
    my %r = ref $r eq 'HASH' ? %$r : ref $r eq 'ARRAY' ? (steps => $r) : ();
    Tether::X::Usage->throw(
        'reconnect => 1, { delay => ..., max_delay => ..., jitter => ..., max_tries => ... } '
          . 'or [ delay, delay, ... ]')
      if ref $r && ref $r ne 'HASH' && ref $r ne 'ARRAY';
    for (sort keys %r) {
        Tether::X::Usage->throw("unknown reconnect option '$_'") unless $RECONNECT_KEYS{$_};
    }
    my $jitter = $r{jitter} // ($r{steps} ? 0 : $RECONNECT_DEFAULTS{jitter});
    my $tries  = $r{max_tries} // $RECONNECT_DEFAULTS{max_tries};
    Tether::X::Usage->throw('reconnect jitter is a percentage, 0 to 100')
      unless _whole($jitter) && $jitter <= 100;
    Tether::X::Usage->throw('reconnect max_tries is a whole number (0: no limit)')
      unless _whole($tries);
    if (my $steps = $r{steps}) {
        Tether::X::Usage->throw('reconnect: steps, or delay and max_delay, not both')
          if defined $r{delay} || defined $r{max_delay};
        Tether::X::Usage->throw('reconnect steps => [ seconds, ... ] needs at least one delay')
          unless ref $steps eq 'ARRAY' && @$steps;
        my @ms = map { _ms($_, 'reconnect steps', 0) } @$steps;
        _check(Tether::Raw::tether_opts_set_retry_steps($o, \@ms, $jitter, $tries),
            'reconnect steps');
        return;
    }
    my $first = _ms($r{delay} // $RECONNECT_DEFAULTS{delay}, 'reconnect delay', 1);
    my $max   = $r{max_delay} // ($RECONNECT_DEFAULTS{max_delay} < $first / 1000
        ? $first / 1000 : $RECONNECT_DEFAULTS{max_delay});
    $max = _ms($max, 'reconnect max_delay', 1);
    Tether::X::Usage->throw('reconnect max_delay is shorter than delay') if $max < $first;
    _check(Tether::Raw::tether_opts_set_retry_backoff($o, $first, $max, $jitter, $tries),
        'reconnect');
    return;
}

sub _whole { defined $_[0] && $_[0] =~ /\A[0-9]+\z/ }

# Seconds to milliseconds, at least $min.
sub _ms {
    my ($s, $what, $min) = @_;
    Tether::X::Usage->throw("$what: a number of seconds, not '" . ($s // 'undef') . "'")
      unless defined $s && Scalar::Util::looks_like_number($s) && $s >= 0;
    my $ms = int($s * 1000 + 0.5);
    Tether::X::Usage->throw("$what: at least 0.001 seconds") if $ms < $min;
    Tether::X::Usage->throw("$what: too long") if $ms > 0x7fffffff;
    return $ms;
}

sub _tls {
    my ($o, $t, $role) = @_;
    if (!ref $t && $t =~ /^\d+$/) {    # LCCSCF_* flags, as Net::Libwebsockets takes them
        require Tether;
        _check(Tether::Raw::tether_opts_set_tls_flags($o, Tether::_lccscf_flags($t)), 'tls flags');
        return;
    }
    Tether::X::Usage->throw('tls => { ... } (or LCCSCF_* flags) must be a hash reference')
      unless ref $t eq 'HASH';
    for (sort keys %$t) {
        Tether::X::Usage->throw("unknown tls option '$_'") unless $TLS_KEYS{$_};
    }
    if (defined $t->{ca_file} || defined $t->{ca_dir}) {
        _check(Tether::Raw::tether_opts_set_tls_ca($o, $t->{ca_file}, $t->{ca_dir}), 'tls ca');
    }
    if (defined $t->{cert_file}) {
        _check(Tether::Raw::tether_opts_set_tls_cert($o, $t->{cert_file}, $t->{key_file}),
            'tls cert');
    }
    for my $name (sort keys %{ $t->{sni} || {} }) {
        my ($cert, $key) = @{ $t->{sni}{$name} };
        _check(Tether::Raw::tether_opts_add_tls_sni_cert($o, $name, $cert, $key), "tls sni $name");
    }
    if (defined $t->{verify_client}) {
        _check(Tether::Raw::tether_opts_set_tls_verify_client($o, $t->{verify_client}),
            'tls verify_client');
    }
    if (defined $t->{flags}) {
        _check(Tether::Raw::tether_opts_set_tls_flags($o, $t->{flags}), 'tls flags');
    }
    if (defined $t->{server_name}) {
        _check(Tether::Raw::tether_opts_set_tls_server_name($o, $t->{server_name}),
            'tls server_name');
    }
    return;
}

sub _compression {
    my ($o, $c) = @_;
    if (ref $c eq 'ARRAY') {    # ['deflate'] or ['deflate', { ... }], as Net::Libwebsockets
        my ($name, $params, @rest) = @$c;
        Tether::X::Usage->throw("compression => ['deflate'] or ['deflate', { ... }]")
          unless defined $name && $name eq 'deflate' && !@rest && (!defined $params || ref $params eq 'HASH');
        $c = $params // 1;
    }
    _check(Tether::Raw::tether_opts_set_deflate($o, 1), 'compression');
    return unless ref $c;
    Tether::X::Usage->throw('compression => 1 or { ... }') unless ref $c eq 'HASH';
    for (sort keys %$c) {
        Tether::X::Usage->throw("unknown compression option '$_'") unless $PMD_KEYS{$_};
    }
    # Both sides' values go together, as in the C API, so that nothing here
    # restates the library's defaults.
    for my $k (qw(no_context_takeover window_bits)) {
        next unless defined $c->{$k};
        Tether::X::Usage->throw("compression => { $k => [server, client] }")
          unless ref $c->{$k} eq 'ARRAY' && @{ $c->{$k} } == 2;
    }
    if (my $n = $c->{no_context_takeover}) {
        _check(Tether::Raw::tether_opts_set_deflate_no_context_takeover(
                $o, $n->[0] ? 1 : 0, $n->[1] ? 1 : 0), 'no_context_takeover');
    }
    if (my $w = $c->{window_bits}) {
        _check(Tether::Raw::tether_opts_set_deflate_window_bits($o, $w->[0], $w->[1]),
            'window_bits');
    }
    _check(Tether::Raw::tether_opts_set_deflate_level($o, $c->{level}), 'compression level')
      if defined $c->{level};
    _check(Tether::Raw::tether_opts_set_deflate_mem_level($o, $c->{mem_level}), 'mem_level')
      if defined $c->{mem_level};
    _check(Tether::Raw::tether_opts_set_deflate_threshold($o, $c->{threshold}), 'threshold')
      if defined $c->{threshold};
    return;
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Options - the connection options shared by every Tether client and server

=head1 SYNOPSIS

    use Tether::Options;

    my $opts = Tether::Options->build({
        subprotocols => ['chat'],
        headers      => [ 'X-Token' => 'abc' ],
        max_message  => 1 << 20,
        close_timeout => 2,
        compression  => { level => 9, threshold => 16, window_bits => [ 15, 12 ] },
    }, 'client');
    Tether::Raw::tether_opts_free($opts);

=head1 DESCRIPTION

Internal: turns the options below, given to L<Tether::Client/connect>,
L<Tether::Server/new>, L<Tether::Blocking::Client> and
L<Tether::Blocking::Server>, into the C library's options object. Times
are in seconds (fractions allowed); sizes in bytes.

=over

=item C<headers> - C<< [ name => value, ... ] >> (or a hash): extra
headers of a client's request, or of a server's 101 response.

=item C<subprotocols> - C<[ ... ]>: a client offers them in this order; a
server accepts the first one the client offers that is in its list.

=item C<origin> - the Origin header a client sends.

=item C<compression> - true for permessage-deflate with the library's
defaults, or a hash: C<< no_context_takeover => [$server, $client] >>
(booleans: drop that side's LZ77 context after each message),
C<< window_bits => [$server, $client] >> (9..15, or 0 for no limit: a
client asks for C<server_max_window_bits> and offers
C<client_max_window_bits>, a server imposes both; the library's default
is 12, 12), C<level> (0..9), C<mem_level> (1..9), C<threshold> (messages
shorter than this many bytes are sent uncompressed; default 64). See
C<tether_opts_set_deflate_*> in F<tether.h>. C<['deflate']> and
C<< ['deflate', { ... }] >>, as Net::Libwebsockets takes it, mean the same.

=item C<tls> - a hash: C<ca_file>, C<ca_dir> (trusted CAs; default the
system's), C<cert_file>, C<key_file> (a server's certificate, which turns
TLS on for a listener, or a client certificate), C<server_name> (the name
a client checks and sends as SNI), C<flags> (the C<TLS_*> constants of
L<Tether>), C<verify_client> (server: 0 no, 1 ask, 2 require), C<sni>
(server: C<< { 'name' => [cert, key] } >>). Or, as Net::Libwebsockets
takes it, the C<LCCSCF_*> constants of L<Tether> ORed together (a
client's relaxations: C<LCCSCF_ALLOW_SELFSIGNED>,
C<LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK>, C<LCCSCF_ALLOW_EXPIRED>,
C<LCCSCF_ALLOW_INSECURE>).

=item C<max_message>, C<max_frame> - the largest message (default 16 MiB)
and frame accepted; past them the connection closes with 1009.

=item C<connect_timeout>, C<handshake_timeout>, C<close_timeout>,
C<idle_timeout> - seconds (0 turns one off, except the close timeout).

=item C<ping_interval>, C<ping_timeout> - keepalive: a ping after that many
seconds of silence, and the connection is dropped with 1011 if no answer
comes in time.

=item C<send_limit>, C<drain_mark> - backpressure: sends fail with
L<Tether::X::Backpressure> past C<send_limit> queued bytes.

=item C<max_header_bytes>, C<max_headers> - limits on the handshake head.

=item C<reuseport> - servers: SO_REUSEPORT.

=item C<http2> - clients: 1 prefers HTTP/2 over C<wss://> (RFC 8441: the
WebSocket is a stream of an HTTP/2 connection when the server takes it,
else HTTP/1.1; C<http2_stream> says which). Servers: 0 serves HTTP/1.1
only (HTTP/2 is on by default).

=item C<proxy> - clients: connect through a proxy, C<http://user:pass@host:port>
(HTTP CONNECT, Basic credentials), C<socks5://...> (the name resolved here)
or C<socks5h://...> (by the proxy); the port defaults to 1080. C<'env'>
takes it from the environment as curl does (C<https_proxy> for C<wss://>,
C<http_proxy> for C<ws://>, else C<all_proxy>; none for hosts in
C<no_proxy>). Without it the environment is not read. A refusal is a
L<Tether::X::Proxy> whose message is the proxy's answer.

=item C<reconnect> - clients: connect again when the connection fails or
is lost. C<1> (a first delay of 2 s, doubled up to 60 s, up to 20% more
at random, no limit), C<< { delay => $s, max_delay => $s, jitter =>
$percent, max_tries => $n } >> (exponential backoff; keys left out take
those defaults, C<max_tries> 0 is no limit), C<[ $s, $s, ... ]> (a table
of delays, the last repeating, no jitter), or
C<< { steps => [...], jitter => ..., max_tries => ... } >>. See
L<Tether::Client/RECONNECTING>.

=back

=cut
