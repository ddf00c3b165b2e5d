package Tether::Handshake::Client;

use strict;
use warnings;

use Tether::Raw ();
use Tether::X ();

sub new {
    my ($class, %a) = @_;
    my ($host, $path) = @a{qw(host path)};
    if (defined $a{url}) {
        $a{url} =~ m{^wss?://(\[[^\]]+\](?::\d+)?|[^/?#]+)([^#]*)}i
          or Tether::X::Usage->throw("not a ws:// or wss:// URL: $a{url}");
        $host //= $1;
        $path //= length $2 ? $2 : '/';
        $host =~ s/:(80|443)$// if ($a{url} =~ /^ws:/i && $host =~ /:80$/)
          || ($a{url} =~ /^wss:/i && $host =~ /:443$/);
    }
    Tether::X::Usage->throw('host => and path => (or url =>) are required')
      unless defined $host && defined $path;
    my $h = Tether::Raw::tether_client_hs_new($host, $path)
      or Tether::X::Usage->throw("bad host '$host' or path '$path'");
    my $self = bless { h => $h, deflate => $a{deflate}, leftover => '', buf => '' }, $class;
    my @calls;
    push @calls, [ \&Tether::Raw::tether_client_hs_set_origin, $a{origin} ] if defined $a{origin};
    push @calls, [ \&Tether::Raw::tether_client_hs_add_protocol, $_ ] for @{ $a{subprotocols} || [] };
    push @calls, [ \&Tether::Raw::tether_client_hs_add_extension, $a{deflate}->offer ] if $a{deflate};
    push @calls, [ \&Tether::Raw::tether_client_hs_add_extension, $_ ] for @{ $a{extensions} || [] };
    my @h = @{ $a{headers} || [] };
    while (my ($n, $v) = splice @h, 0, 2) {
        push @calls, [ \&Tether::Raw::tether_client_hs_add_header, $n, $v ];
    }
    push @calls, [ \&Tether::Raw::tether_client_hs_set_max_header_bytes, $a{max_header_bytes} ]
      if defined $a{max_header_bytes};
    push @calls, [ \&Tether::Raw::tether_client_hs_set_max_headers, $a{max_headers} ]
      if defined $a{max_headers};
    for my $c (@calls) {
        my ($f, @args) = @$c;
        my $rc = $f->($h, @args);
        Tether::X::throw_code($rc, message => "bad handshake setting (@args): "
              . Tether::Raw::tether_strerror($rc))
          if $rc < 0;
    }
    return $self;
}

# The request to send (the same bytes every call).
sub request {
    my ($self) = @_;
    my ($rc, $bytes) = Tether::Raw::tether_client_hs_request($self->{h});
    Tether::X::throw_code($rc) if $rc < 0;
    return $bytes;
}

# Feeds response bytes: 1 when the server accepted, 0 when more bytes are
# needed; throws Tether::X::Handshake otherwise.
sub parse {
    my ($self, $bytes) = @_;
    return 1 if $self->{done};
    $self->{buf} .= $bytes;
    my ($rc, $used) = Tether::Raw::tether_client_hs_parse($self->{h}, $self->{buf});
    substr($self->{buf}, 0, $used, '');
    return 0 if $rc == $Tether::Raw::TETHER_E_AGAIN;
    if ($rc < 0) {
        my $status = Tether::Raw::tether_client_hs_status($self->{h});
        Tether::X::throw_code($rc,
            ($status ? (http_status => $status) : ()),
            message => $rc == $Tether::Raw::TETHER_E_HS_STATUS
            ? "the server answered $status " . (Tether::Raw::tether_client_hs_reason($self->{h}) // '')
            : Tether::Raw::tether_strerror($rc));
    }
    $self->{leftover} = delete $self->{buf};
    $self->{done} = 1;
    $self->{deflate}->accept($self->extensions) if $self->{deflate};
    return 1;
}

# Bytes that followed the response head: the first frames.
sub leftover   { $_[0]{leftover} }
sub status     { Tether::Raw::tether_client_hs_status($_[0]{h}) }
sub reason     { Tether::Raw::tether_client_hs_reason($_[0]{h}) }
sub header     { Tether::Raw::tether_client_hs_header($_[0]{h}, $_[1]) }
sub protocol   { Tether::Raw::tether_client_hs_protocol($_[0]{h}) }
sub extensions { Tether::Raw::tether_client_hs_extensions($_[0]{h}) }

sub headers {
    my ($self) = @_;
    my $n = Tether::Raw::tether_client_hs_header_count($self->{h});
    return map { my (undef, $k, $v) = Tether::Raw::tether_client_hs_header_at($self->{h}, $_); ($k, $v) }
      0 .. $n - 1;
}

sub DESTROY {
    my ($self) = @_;
    warn "Tether::Handshake::Client destroyed at global destruction; memory leak likely\n"
      if ${^GLOBAL_PHASE} eq 'DESTRUCT';
    Tether::Raw::tether_client_hs_free(delete $self->{h}) if $self->{h};
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Handshake::Client - the client's opening handshake, without I/O

=head1 SYNOPSIS

    use IO::Socket::IP;
    use Tether::Handshake::Client;

    my $hs = Tether::Handshake::Client->new(
        url          => 'ws://127.0.0.1:9000/chat',
        subprotocols => ['chat'],
        headers      => [ 'X-Token' => 'abc' ],
    );

    my $sock = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => 9000) or die $!;
    print {$sock} $hs->request;
    until ($hs->parse(_read($sock))) { }      # throws Tether::X::Handshake if refused
    print "status ", $hs->status, "\n";      # 101
    my $first_frames = $hs->leftover;

    sub _read { my $n = sysread($_[0], my $buf, 4096); die "closed" unless $n; $buf }

=head1 DESCRIPTION

Builds the upgrade request (with a fresh Sec-WebSocket-Key) and checks the
response: status 101, Upgrade, Connection, Sec-WebSocket-Accept, a
sub-protocol that was offered, extensions that were offered.

=head1 METHODS

=over

=item C<< new(url => $url) >> or C<< new(host => 'example.com:8080', path => '/chat?x=1') >>,
with C<subprotocols>, C<headers> (C<< [name => value, ...] >>), C<origin>,
C<extensions> (offers), C<deflate> (a client L<Tether::Deflate>: offered,
then configured from the answer), C<max_header_bytes>, C<max_headers>.

=item C<request> - the bytes to send.

=item C<parse($bytes)> - 1 when the upgrade was accepted, 0 when more bytes
are needed; throws L<Tether::X::Handshake> (with C<status> for a non-101
answer).

=item C<leftover> - bytes after the response head (the first frames).

=item C<status>, C<reason>, C<header($name)>, C<headers> (name/value pairs
in order), C<protocol>, C<extensions>.

=back

=cut
