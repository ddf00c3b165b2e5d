// The uWebSockets anchors' common ending: listen on 127.0.0.1:PORT, say
// "listening on 127.0.0.1:PORT" as every server of the benchmark does,
// and run. Benchmark code only, never part of tether.
#pragma once

#include <cstdio>

template <class App> void uws_listen_and_run(App &&app, int port) {
    app.listen("127.0.0.1", port,
               [port](auto *listen_socket) {
                   if (listen_socket) {
                       std::printf("listening on 127.0.0.1:%d\n", port);
                       std::fflush(stdout);
                   }
               })
        .run();
}
