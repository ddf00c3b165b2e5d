#!/usr/bin/perl
# An echo server for the benchmark: --impl tether (Tether::Server on
# AnyEvent) or mojo (Mojolicious). Prints "listening on 127.0.0.1:PORT".
use strict;
use warnings;
use Getopt::Long;

GetOptions('impl=s' => \my $impl, 'port=i' => \(my $port = 0)) or die "bad options\n";
$| = 1;

if ($impl eq 'tether') {
    require AnyEvent;
    require Tether::Server;
    my $server = Tether::Server->new(
        event         => 'AnyEvent',
        port          => $port,
        on_connection => sub {
            my ($c) = @_;
            $c->on_text(sub { $c->send_text($_[0]) });
            $c->on_binary(sub { $c->send_binary($_[0]) });
        },
    );
    print "listening on 127.0.0.1:", $server->port, "\n";
    my $stop = AE::cv();
    my $w = AE::signal(TERM => sub { $stop->send });
    $stop->recv;
    $server->close;
}
elsif ($impl eq 'mojo') {
    $ENV{MOJO_LOG_LEVEL} = 'fatal';
    require Mojolicious::Lite;
    require Mojo::Server::Daemon;
    my $app = Mojolicious::Lite->new;
    $app->routes->websocket('/' => sub {
        my ($c) = @_;
        $c->inactivity_timeout(300);
        $c->on(message => sub {
            my ($c, $msg) = @_;
            $c->send(utf8::is_utf8($msg) || $msg !~ /[^\x00-\x7f]/ ? $msg : { binary => $msg });
        });
    });
    my $daemon = Mojo::Server::Daemon->new(app => $app, listen => ["http://127.0.0.1:$port"],
        silent => 1, max_clients => 10_000);
    $daemon->start;
    my $p = Mojo::IOLoop->acceptor($daemon->acceptors->[0])->port;
    print "listening on 127.0.0.1:$p\n";
    local $SIG{TERM} = sub { Mojo::IOLoop->stop };
    Mojo::IOLoop->start;
}
else {
    die "--impl tether|mojo\n";
}
