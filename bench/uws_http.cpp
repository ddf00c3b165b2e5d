// uWebSockets' HTTP "hello world" (its examples/HelloWorld.cpp, without
// TLS, on 127.0.0.1), the anchor of the HTTP benchmark (scripts/bench.sh
// --only http). Built from uWebSockets' and uSockets' public sources by
// bench/uws_build.sh; never part of tether.
//
//   uws_http PORT     (prints "listening on 127.0.0.1:PORT")
#include "App.h"
#include "uws_listen.h"

#include <cstdio>
#include <cstdlib>

int main(int argc, char **argv) {
    int port = argc > 1 ? std::atoi(argv[1]) : 3000;
    uws_listen_and_run(
        uWS::App().get("/*", [](auto *res, auto * /*req*/) { res->end("Hello world!\n"); }), port);
    return 1;
}
