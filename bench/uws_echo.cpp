// uWebSockets' WebSocket echo server, the anchor of the side-by-side echo
// benchmark (bench/run.py): compression off, messages up to 16 MiB, no idle
// timeout, backpressure up to 64 MiB (so a 1 MiB echo at depth 2 never
// drops). With --broadcast every message goes to every connection through
// its publish/subscribe, as its broadcasting echo server does (for its
// benchmarks/broadcast_test.c). Built from uWebSockets' and uSockets'
// public sources by bench/uws_build.sh; never part of tether.
//
//   uws_echo PORT [--broadcast]   (prints "listening on 127.0.0.1:PORT")
#include "App.h"
#include "uws_listen.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

struct Nothing {};

int main(int argc, char **argv) {
    int port = argc > 1 ? std::atoi(argv[1]) : 3000;
    bool broadcast = argc > 2 && std::strcmp(argv[2], "--broadcast") == 0;
    uWS::App *app = new uWS::App();
    uWS::App::WebSocketBehavior<Nothing> b;
    b.compression = uWS::DISABLED;
    b.maxPayloadLength = 16 * 1024 * 1024;
    b.idleTimeout = 0;
    b.maxBackpressure = 64 * 1024 * 1024;
    b.sendPingsAutomatically = false;
    if (broadcast) {
        b.open = [](auto *ws) { ws->subscribe("all"); };
        b.message = [app](auto * /*ws*/, std::string_view msg, uWS::OpCode op) {
            app->publish("all", msg, op);
        };
    } else {
        b.message = [](auto *ws, std::string_view msg, uWS::OpCode op) { ws->send(msg, op); };
    }
    uws_listen_and_run(app->ws<Nothing>("/*", std::move(b)), port);
    return 1;
}
