package Tether::Blocking::Connection;

use strict;
use warnings;

use Tether::Context ();
use Tether::Endpoint ();
use Tether::Raw ();
use Tether::X ();

# The same fields as a Tether::Courier, so sends (1 when queued, 0 while
# closing, a throw once closed) and the accessors are shared with it.
our @ISA = ('Tether::Endpoint');

my $OP_TEXT   = $Tether::Raw::TETHER_OP_TEXT;

sub _new {
    my ($class, %a) = @_;
    my $self = bless {
        bctx    => $a{bctx},
        conn    => $a{conn},
        id      => $a{id},
        role    => $a{role},
        timeout => $a{timeout},
        state   => 'connecting',
        queue   => [],
        pongs   => [],
        opened  => 0,
        on_reconnect => $a{on_reconnect},
        on_retry     => $a{on_retry},
    }, $class;
    $a{bctx}->add_conn($a{id}, $self);
    return $self;
}

# ---- What the engine calls ----------------------------------------------

sub _event {
    my ($self, $ev) = @_;
    my $type = $ev->[0];
    if ($type == $Tether::Context::EV_MESSAGE) {
        push @{ $self->{queue} }, [ $ev->[2], $ev->[3] ];
    }
    elsif ($type == $Tether::Context::EV_OPEN) {
        $self->{state} = 'open';
        if ($self->{opened}++) {
            $self->_call('on_reconnect', $self->{on_reconnect}, $self) if $self->{on_reconnect};
        }
        elsif ($self->{on_open}) {
            $self->{on_open}->($self);
        }
    }
    elsif ($type == $Tether::Context::EV_PONG) {
        push @{ $self->{pongs} }, $ev->[2];
    }
    elsif ($type == $Tether::Context::EV_RETRY) {
        # reconnect: lost, or not made; the same connection tries again.
        $self->{state} = 'connecting';
        my (undef, undef, $code, $reason, $clean, $error, $text, $status, $os_error, $ms, $n) =
          @$ev;
        $self->_call('on_retry', $self->{on_retry},
            Tether::X::from_close($code, $reason, $clean, $error, $text, $status, $os_error),
            $ms / 1000, $n, $self)
          if $self->{on_retry};
    }
}

# A user callback: one that dies is reported, and the wait goes on.
sub _call {
    my ($self, $what, $cb, @args) = @_;
    my $ok = eval { $cb->(@args); 1 };
    warn "Tether: the $what callback died: $@" unless $ok;
}

sub _closed {
    my ($self, $code, $reason, $clean, $error, $text, $http_status, $os_error, $stats) = @_;
    $self->{state}  = 'closed';
    $self->{conn}   = undef;
    $self->{status} = [ $code, $reason ];
    $self->{stats}  = $stats;
    delete @$self{qw(on_reconnect on_retry)};
    $self->{error} =
      Tether::X::from_close($code, $reason, $clean, $error, $text, $http_status, $os_error);
}

sub _wait {
    my ($self, $done, $timeout, $what) = @_;
    $timeout = $self->{timeout} if @_ < 3;
    return $self->{bctx}->wait_for($done, $timeout, $what);
}

# ---- The public API -------------------------------------------------------

sub recv {
    my ($self, $timeout) = @_;
    $timeout = $self->{timeout} if @_ < 2;
    my $q = $self->{queue};
    $self->_wait(sub { @$q || $self->{state} eq 'closed' }, $timeout, 'a message') unless @$q;
    if (my $m = shift @$q) {
        return wantarray ? ($m->[1], $m->[0] == $OP_TEXT ? 'text' : 'binary') : $m->[1];
    }
    die $self->{error} if $self->{error};
    return;
}

sub ping {
    my ($self, $payload, $timeout) = @_;
    $timeout = $self->{timeout} if @_ < 3;
    my $rc = Tether::Raw::tether_conn_ping($self->_conn, $payload // '');
    Tether::X::throw_code($rc) if $rc < 0;
    my $p = $self->{pongs};
    $self->_wait(sub { @$p || $self->{state} eq 'closed' }, $timeout, 'a pong');
    die $self->{error} if !@$p && $self->{error};
    Tether::X::NotOpen->throw('the connection closed before the pong') unless @$p;
    return shift @$p;
}

sub close {
    my ($self, $code, $reason, $timeout) = @_;
    if ($self->{state} ne 'closed') {
        if ($self->{state} ne 'closing') {
            $reason //= '';
            utf8::encode($reason);
            $code //= $Tether::Raw::TETHER_CLOSE_NORMAL;
            my $rc = Tether::Raw::tether_conn_close($self->_conn, $code, $reason);
            Tether::Endpoint::_close_failed($rc, $code) if $rc < 0;
            $self->{state} = 'closing';
        }
        # The library's close timeout bounds this wait.
        $self->_wait(sub { $self->{state} eq 'closed' }, $timeout, 'the closing handshake');
    }
    die $self->{error} if $self->{error};
    return $self->{status};
}

sub error       { $_[0]{error} }

sub DESTROY {
    my ($self) = @_;
    if (${^GLOBAL_PHASE} eq 'DESTRUCT') {
        warn "Tether::Blocking::Connection destroyed at global destruction; memory leak likely\n";
        return;
    }
    # Dropped while open: say goodbye; the engine finishes the handshake
    # whenever it runs again (or frees it with its context).
    Tether::Raw::tether_conn_close($self->{conn}, $Tether::Raw::TETHER_CLOSE_GOING_AWAY, '')
      if $self->{conn} && $self->{state} eq 'open';
}

1;

__END__

=encoding utf8

=head1 NAME

Tether::Blocking::Connection - one WebSocket connection, used without an event loop

=head1 SYNOPSIS

    use Tether::Blocking::Client;

    my $ws = Tether::Blocking::Client->connect(url => 'ws://127.0.0.1:9000/');
    $ws->send_text("caf\x{e9}");
    my ($data, $type) = $ws->recv(5);      # 'text' or 'binary'
    my $pong = $ws->ping('x');             # waits for the pong
    my ($code, $reason) = @{ $ws->close(1000, 'done') };

=head1 DESCRIPTION

What L<Tether::Blocking::Client/connect> and
L<Tether::Blocking::Server/accept> return. Every call that waits has a
timeout in seconds: the argument, or the C<timeout> the connection was made
with (default 30); C<undef> waits without limit.

=head1 METHODS

=over

=item C<send_text($characters)>, C<send_binary($bytes)> - queue a message
and return 1 (never blocks; the library writes it as the socket allows,
while you wait in C<recv>, C<ping> or C<close>). While the connection is
closing they drop the message and return 0; once it is closed they throw
L<Tether::X::NotOpen>.

=item C<recv( [$timeout] )> - the next message: its data (characters or
bytes), and in list context also its type, C<'text'> or C<'binary'>.
Returns nothing (C<undef> in scalar context) once the connection has
closed normally (1000 or 1005); throws the L<Tether::X> error if it ended
otherwise, and L<Tether::X::Timeout> if nothing came in time (the
connection stays usable).

=item C<ping( [$payload [, $timeout]] )> - sends a ping and returns the
pong's payload; messages that arrive meanwhile wait for C<recv>.

=item C<close( [$code [, $reason [, $timeout]]] )> - the closing handshake
(default 1000): returns C<[code, reason]> (the peer's answer), or throws
the L<Tether::X> error if the connection did not end normally.

=item C<stats> - the connection's figures, a hash reference with the
field names of the C library's C<tether_stats> (C<handshake_us>,
C<rtt_us>, C<rtt_samples>, C<wire_in>, C<wire_out>, C<messages_in>,
C<messages_out>, C<payload_in>, C<payload_out>, C<reconnects>...; see
L<Tether::Courier/stats>); after the end, the last ones.

=item C<state>, C<is_open>, C<status> (C<[code, reason]> once closed),
C<error> (the error object, if it ended abnormally), C<protocol>,
C<extensions>, C<header($name)>, C<path>, C<query>, C<peer>,
C<http_status>, C<tls_version>, C<id>, C<role>. With C<reconnect> (see
L<Tether::Blocking::Client/Reconnecting>), C<state> is C<connecting>
while it waits to connect again.

=back

A connection dropped while open is closed with 1001.

=cut
