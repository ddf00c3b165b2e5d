package Tether::Server;

use strict;
use warnings;

use Scalar::Util ();
use Tether ();
use Tether::Context ();
use Tether::Courier ();
use Tether::Loop ();
use Tether::Options ();
use Tether::Raw ();
use Tether::Request ();
use Tether::X ();

my %OWN = map { $_ => 1 } qw(event loop host port on_connection on_request on_http);
my %KNOWN = (%OWN, map { $_ => 1 } Tether::Options::names());

sub new {
    my ($class, %args) = @_;
    for (sort keys %args) {
        Tether::X::Usage->throw("unknown option '$_' for Tether::Server->new") unless $KNOWN{$_};
    }
    Tether::X::Usage->throw('on_connection => sub ($courier) {...} is required')
      unless ref $args{on_connection} eq 'CODE';
    for my $cb (qw(on_request on_http)) {
        Tether::X::Usage->throw("$cb must be a code reference")
          if defined $args{$cb} && ref $args{$cb} ne 'CODE';
    }

    my $adapter = Tether::Loop->adapter($args{event}, $args{loop});
    my $self = bless {
        on_connection => $args{on_connection},
        on_request    => $args{on_request},
        on_http       => $args{on_http},
        host          => $args{host} // '127.0.0.1',
        tls           => ($args{tls} && defined $args{tls}{cert_file}) ? 1 : 0,
    }, $class;
    my $weak = $self;
    Scalar::Util::weaken($weak);
    # A context of its own, so that every REQUEST on it is for this server.
    $self->{context} = Tether::Context->new($adapter,
        on_request => sub { $weak ? $weak->_request(@_) : Tether::Raw::tether_conn_reject($_[1], 503, undef) },
        on_http    => sub { $weak ? $weak->_http(@_) : Tether::Raw::tether_conn_respond($_[1], 503, undef, undef) });

    my $opts = Tether::Options->build(\%args, 'server');
    # with on_http, plain requests on the port reach it (else: 400)
    Tether::Raw::tether_opts_set_http($opts, 1) if $args{on_http};
    my ($rc, $l, $os_error) =
      Tether::Raw::tether_listen($self->{context}->ctx, $self->{host}, $args{port} // 0, $opts);
    Tether::Raw::tether_opts_free($opts);
    die Tether::X::from_listen($rc, $self->{host}, $args{port} // 0, $os_error) if $rc < 0;
    $self->{listener} = $l;
    $self->{port}     = Tether::Raw::tether_listener_port($l);
    $self->{context}->arm;
    return $self;
}

sub _request {
    my ($self, $id, $conn) = @_;
    my $courier = Tether::Courier->_new(
        context => $self->{context},
        conn    => $conn,
        id      => $id,
        role    => 'server',
        on_open => $self->{on_connection},
    );
    return unless $self->{on_request};
    my $req = Tether::Request->_new($conn, $courier);
    my $ok = eval { $self->{on_request}->($req); 1 };
    my $err = $@;
    $req->_done;
    if (!$ok) {
        warn "Tether: the on_request callback died: $err";
        Tether::Raw::tether_conn_reject($conn, 500, undef);
    }
}

# A plain HTTP request: on_http answers it with $req->respond; one it
# leaves unanswered gets 404, one it dies on 500.
sub _http {
    my ($self, $id, $conn) = @_;
    my $req = Tether::Request->_new($conn, undef);
    my $ok = eval { $self->{on_http}->($req); 1 };
    my $err = $@;
    my $answered = $req->answered;
    $req->_done;
    if (!$ok) {
        warn "Tether: the on_http callback died: $err";
        Tether::Raw::tether_conn_respond($conn, 500, undef, undef) unless $answered;
    } elsif (!$answered) {
        Tether::Raw::tether_conn_respond($conn, 404, 'text/plain; charset=utf-8', "not found\n");
    }
}

sub port { $_[0]{port} }
sub host { $_[0]{host} }

sub url {
    my ($self) = @_;
    my $h = $self->{host} =~ /:/ ? "[$self->{host}]" : $self->{host};
    return ($self->{tls} ? 'wss' : 'ws') . "://$h:$self->{port}/";
}

# The open connections' couriers.
sub connections { grep { $_->is_open } $_[0]{context}->conns }

# Stops accepting; open connections go on.
sub close {
    my ($self) = @_;
    my $l = delete $self->{listener} or return;
    Tether::Raw::tether_listener_close($l);
    return;
}

# Stops accepting and starts closing every connection.
sub shutdown {
    my ($self, $code, $reason) = @_;
    $self->close;
    for my $c ($self->{context}->conns) {
        eval { $c->close($code // $Tether::Raw::TETHER_CLOSE_GOING_AWAY, $reason // 'server shutting down') };
    }
    return;
}

sub DESTROY {
    my ($self) = @_;
    if (${^GLOBAL_PHASE} eq 'DESTRUCT') {
        warn "Tether::Server destroyed at global destruction; memory leak likely\n";
    }
    $self->close;
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Server - a WebSocket server on AnyEvent, IO::Async or Mojolicious

=head1 SYNOPSIS

    use AnyEvent;
    use Tether::Client;
    use Tether::Server;

    my $server = Tether::Server->new(
        event         => 'AnyEvent',
        host          => '127.0.0.1',
        port          => 0,                       # any free port
        subprotocols  => ['echo'],
        on_request    => sub {
            my ($req) = @_;
            $req->reject(404) unless $req->path eq '/echo';
        },
        on_connection => sub {
            my ($courier) = @_;                   # a Tether::Courier
            $courier->on_text(sub { $courier->send_text($_[0]) });
            $courier->on_binary(sub { $courier->send_binary($_[0]) });
        },
    );

    # A client of our own, to see it work:
    my $cv = AE::cv();
    Tether::Client::connect(
        url      => 'ws://127.0.0.1:' . $server->port . '/echo',
        event    => 'AnyEvent',
        on_ready => sub {
            my ($c) = @_;
            $c->on_text(sub { print "echo: $_[0]\n"; $c->close });
            $c->send_text('hi');
        },
    )->cb(sub { $cv->send });
    $cv->recv;
    $server->close;

=head1 DESCRIPTION

Listens for WebSocket connections and gives each one, when it opens, a
L<Tether::Courier>: the same object a L<Tether::Client> gets.

=head1 METHODS

=head2 new( %OPTIONS )

Starts listening at once; throws L<Tether::X> on failure (e.g. the port is
taken: L<Tether::X::System> with C<errno> C<EADDRINUSE> and the message
C<address already in use (127.0.0.1:8080)>, or a certificate cannot be
loaded: L<Tether::X::TLSConfig>). Options:

=over

=item C<event> (required), C<loop> - as for L<Tether::Client/connect>.

=item C<host> (default C<127.0.0.1>; C<::1>, C<0.0.0.0>, C<::> or a name),
C<port> (default 0: any free port, see C<port>).

=item C<on_connection> (required) - C<< sub ($courier) {...} >>, called when
a connection is open. Each connection's end is C<< $courier->done >>.

=item C<on_request> - C<< sub ($request) {...} >>, called with a
L<Tether::Request> for each upgrade request, before it is answered: look at
the path, headers and peer, then C<accept>, C<reject> or do nothing (which
accepts).

=item C<on_http> - C<< sub ($request) {...} >>: with it the port also
answers plain HTTP requests (no Upgrade: a health check, a page). It is
called with a L<Tether::Request> for each, which it answers with
C<< $request->respond($status, $body, content_type => ..., headers => [...]) >>;
one it leaves unanswered gets 404, one it dies on 500. WebSocket upgrades
on the same port go on as before. Without it a plain request gets 400.

    on_http => sub {
        my ($req) = @_;
        $req->respond(200, "OK\n") if $req->path eq '/healthz';
    },

=item C<subprotocols>, C<headers>, C<compression>, C<tls>
(C<< { cert_file => ..., key_file => ... } >> turns TLS on), limits and
timeouts - see L<Tether::Options>.

=back

=head2 port, host, url

Where the server listens; C<url> is C<ws://host:port/> (C<wss://> with TLS).

=head2 connections

The couriers of the open connections.

=head2 close

Stops accepting new connections; open ones go on.

=head2 shutdown( [$code [, $reason]] )

Stops accepting and closes every connection (default 1001, "server
shutting down").

=head1 LEAKS

A server destroyed at global destruction warns (see
L<Tether/MEMORY LEAK DETECTION>). A server lives as long as you hold it,
or while a connection it accepted is open.

=cut
