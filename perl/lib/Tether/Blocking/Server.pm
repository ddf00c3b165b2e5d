package Tether::Blocking::Server;

use strict;
use warnings;

use Scalar::Util ();
use Tether ();
use Tether::Blocking::Connection ();
use Tether::Blocking::Context ();
use Tether::Options ();
use Tether::Raw ();
use Tether::Request ();
use Tether::X ();

my %KNOWN = ((map { $_ => 1 } qw(host port timeout on_request)),
    map { $_ => 1 } Tether::Options::names());

sub new {
    my ($class, %args) = @_;
    for (sort keys %args) {
        Tether::X::Usage->throw("unknown option '$_' for Tether::Blocking::Server->new")
          unless $KNOWN{$_};
    }
    my $self = bless {
        host       => $args{host} // '127.0.0.1',
        timeout    => exists $args{timeout} ? $args{timeout} : 30,
        on_request => $args{on_request},
        ready      => [],
        pending    => {},
        tls        => ($args{tls} && defined $args{tls}{cert_file}) ? 1 : 0,
    }, $class;
    my $weak = $self;
    Scalar::Util::weaken($weak);
    $self->{bctx} = Tether::Blocking::Context->new(
        on_request => sub { $weak->_request(@_) if $weak });
    my $opts = Tether::Options->build(\%args, 'server');
    my ($rc, $l, $os_error) =
      Tether::Raw::tether_listen($self->{bctx}->ctx, $self->{host}, $args{port} // 0, $opts);
    Tether::Raw::tether_opts_free($opts);
    die Tether::X::from_listen($rc, $self->{host}, $args{port} // 0, $os_error) if $rc < 0;
    $self->{listener} = $l;
    $self->{port}     = Tether::Raw::tether_listener_port($l);
    return $self;
}

sub _request {
    my ($self, $id, $conn) = @_;
    my $ws = Tether::Blocking::Connection->_new(
        bctx    => $self->{bctx},
        conn    => $conn,
        id      => $id,
        role    => 'server',
        timeout => $self->{timeout},
    );
    # Held here until it opens (then accept() hands it out) or fails.
    $self->{pending}{$id} = $ws;
    my $weak = $self;
    Scalar::Util::weaken($weak);
    $ws->{on_open} = sub {
        my ($c) = @_;
        delete $c->{on_open};
        return unless $weak;
        push @{ $weak->{ready} }, delete $weak->{pending}{ $c->{id} };
    };
    if ($self->{on_request}) {
        my $req = Tether::Request->_new($conn, $ws);
        my $ok = eval { $self->{on_request}->($req); 1 };
        my $err = $@;
        $req->_done;
        if (!$ok) {
            warn "Tether: the on_request callback died: $err";
            Tether::Raw::tether_conn_reject($conn, 500, undef);
        }
    }
}

# The next connection that opens, or undef after $timeout seconds.
sub accept {
    my ($self, $timeout) = @_;
    $timeout = $self->{timeout} if @_ < 2;
    my $ready = $self->{ready};
    # Requests that never open (rejected, failed) are dropped as they end.
    my $ok = eval {
        $self->{bctx}->wait_for(
            sub {
                for my $id (keys %{ $self->{pending} }) {
                    delete $self->{pending}{$id} if $self->{pending}{$id}{state} eq 'closed';
                }
                @$ready;
            },
            $timeout,
            'a connection'
        );
        1;
    };
    if (!$ok) {
        my $err = $@;
        die $err unless ref $err && $err->isa('Tether::X::Timeout');
        return undef;
    }
    return shift @$ready;
}

# Serves connections one after the other: $handler->($connection) for each,
# $count of them (undef: forever).
sub serve {
    my ($self, $handler, $count) = @_;
    while (!defined $count || $count-- > 0) {
        my $ws = $self->accept(undef) or next;
        my $ok = eval { $handler->($ws); 1 };
        warn "Tether: the connection handler died: $@" unless $ok;
        eval { $ws->close } if $ws->{state} eq 'open';
    }
    return;
}

sub port { $_[0]{port} }
sub host { $_[0]{host} }

sub url {
    my ($self) = @_;
    my $h = $self->{host} =~ /:/ ? "[$self->{host}]" : $self->{host};
    return ($self->{tls} ? 'wss' : 'ws') . "://$h:$self->{port}/";
}

sub close {
    my ($self) = @_;
    my $l = delete $self->{listener} or return;
    Tether::Raw::tether_listener_close($l);
    return;
}

sub DESTROY {
    my ($self) = @_;
    if (${^GLOBAL_PHASE} eq 'DESTRUCT') {
        warn "Tether::Blocking::Server destroyed at global destruction; memory leak likely\n";
        return;
    }
    $self->close;
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Blocking::Server - a WebSocket server for scripts without an event loop

=head1 SYNOPSIS

    use POSIX ();
    use Tether::Blocking::Server;

    my $server = Tether::Blocking::Server->new(host => '127.0.0.1', port => 0);
    print "listening on ", $server->url, "\n";

    # A client in another process, to have someone to serve:
    if (!fork) {
        require Tether::Blocking::Client;
        my $ws = Tether::Blocking::Client->connect(url => $server->url);
        $ws->send_text('ping');
        $ws->recv;
        $ws->close;
        POSIX::_exit(0);    # not exit: the parent's objects are not ours to destroy
    }

    # Echo, one connection after the other (here: just one).
    $server->serve(sub {
        my ($ws) = @_;                       # a Tether::Blocking::Connection
        while (my ($data, $type) = $ws->recv(10)) {
            $type eq 'text' ? $ws->send_text($data) : $ws->send_binary($data);
        }
    }, 1);
    wait;

=head1 DESCRIPTION

A listening socket and its connections, driven by whoever is waiting:
C<accept>, or C<recv>, C<ping>, C<close> on one of its connections (they
share one tether context, so while you wait on one connection the others'
handshakes and messages progress and queue).

=head1 METHODS

=over

=item C<new(%OPTIONS)> - C<host> (default C<127.0.0.1>), C<port> (default
0: any free port), C<timeout> (seconds, default 30: the default for waits
on accepted connections), C<on_request> (C<< sub ($request) >> with a
L<Tether::Request>, to accept or reject upgrades), and the options of
L<Tether::Options> (C<tls> with C<cert_file> and C<key_file> for
C<wss://>, C<compression>, C<subprotocols>...).

=item C<accept( [$timeout] )> - the next connection that opens, a
L<Tether::Blocking::Connection>, or C<undef> after C<$timeout> seconds.

=item C<serve( $handler [, $count] )> - accepts connections one at a time
and calls C<< $handler->($connection) >> for each, closing it afterwards if
the handler did not; C<$count> connections, or forever.

=item C<port>, C<host>, C<url>, C<close> (stop listening).

=back

=cut
