#!/usr/bin/env python3
"""Writes the benchmark's text corpus: JSON messages, one per line, of the
kinds a WebSocket service carries (chat messages, presence and typing
events, device telemetry, service logs, and now and then a page of chat
history), made by a seeded generator so that every run of every machine
gets the same bytes. No third-party text is used: the words are a short
list written here, drawn with Zipf-like frequencies as words are in real
text; names, ids, numbers and timestamps come from the generator.

Usage: corpus.py OUT [--messages N] [--seed S]
Prints one line about the corpus (messages, bytes, sha256) on stderr.
"""
import argparse
import hashlib
import json
import random
import sys

# Ordered roughly by how common such words are in chat; the order drives
# the Zipf weights.
WORDS = """
the i to a and you it is that of in for be on this we have it's not with
do are just so but can at what was my if will get all me about up like
now no one your out there they know think go time how when i'm good yes
need see today new make want from or would back right people work any
more did then here let's should also could still sure thanks going
really well don't some tomorrow got take look our check meeting fix build
deploy release test tests review branch merge ticket issue bug server
client latency error logs dashboard metrics alert staging production
database cache queue timeout retry config update version patch change
rollback incident doc docs link call week morning afternoon later soon
quick small big slow fast broken working again maybe probably already
yesterday tonight lunch coffee team channel thread reply question answer
idea plan note design spec draft pull request approve ship done wait
start stop run running ran restart reboot memory cpu disk network packet
socket connection user users customer customers data file files report
numbers graph spike drop load traffic region cluster node nodes pod pods
container image job jobs cron script tool tools api endpoint route
handler field value key token session login password account billing
invoice order orders payment cart item items price stock shipping
""".split()

FIRST = ["Ana", "Ben", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hiro", "Inès", "Jonas",
         "Kemal", "Lena", "Marta", "Noah", "Olga", "Pavel", "Quinn", "Rosa", "Sven", "Tomás",
         "Uma", "Vikram", "Wen", "Xavier", "Yara", "Zoë", "Łukasz", "Søren", "Ngozi", "Ravi"]
LAST = ["Adler", "Berg", "Castro", "Dubois", "Eriksen", "Fischer", "García", "Hansen", "Ito",
        "Jensen", "Kowalski", "Lopez", "Müller", "Nakamura", "Okafor", "Petrov", "Rossi",
        "Schmidt", "Tanaka", "Novák", "Wójcik", "Yilmaz", "Zhang", "Silva", "Moreau"]
ROOMS = ["general", "random", "engineering", "ops", "incidents", "design", "sales", "support",
         "release-train", "data-platform", "mobile", "frontend", "backend", "infra"]
SERVICES = ["api-gateway", "auth", "billing", "search", "notifications", "orders", "inventory",
            "media", "chat-relay", "analytics"]
PATHS = ["/v1/rooms/{id}/messages", "/v1/users/{id}", "/v1/orders/{id}", "/v1/search",
         "/v1/sessions", "/v1/devices/{id}/telemetry", "/v2/feed", "/v1/uploads/{id}"]
EMOJI = ["👍", "🎉", "😂", "👀", "🚀", "✅", "❤️", "🔥"]
CLIENTS = ["web/5.12.1", "ios/5.11.0", "android/5.12.0", "desktop/5.10.3"]
UNITS = ["building-a", "building-b", "warehouse-1", "warehouse-2", "lab"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        # Zipf-like weights: the k-th word is drawn in proportion to 1/k^1.1.
        self.cum = []
        total = 0.0
        for k in range(len(WORDS)):
            total += 1.0 / (k + 1) ** 1.1
            self.cum.append(total)
        self.users = [self.user(i) for i in range(400)]
        self.devices = ["%s-%06x" % (self.r.choice(["th", "pm", "gw", "mt"]),
                                     self.r.randrange(1 << 24)) for _ in range(300)]
        self.ts = 1717200000000  # ms; moves forward with every message
        self.seq = 0

    def user(self, i):
        first, last = self.r.choice(FIRST), self.r.choice(LAST)
        return {"id": "u%05d" % (1000 + i * 7), "name": f"{first} {last}"}

    def word(self):
        return self.r.choices(WORDS, cum_weights=self.cum)[0]

    def sentence(self):
        n = max(2, int(self.r.expovariate(1 / 9)))
        words = [self.word() for _ in range(n)]
        if self.r.random() < 0.1:
            words.insert(self.r.randrange(len(words)), "#%d" % self.r.randrange(1000, 9999))
        end = self.r.choices([".", "?", "!", "", "..."], [50, 20, 8, 18, 4])[0]
        return " ".join(words).capitalize() + end

    def text(self):
        s = " ".join(self.sentence() for _ in range(1 + int(self.r.expovariate(1 / 1.2))))
        if self.r.random() < 0.08:
            s += " " + self.r.choice(EMOJI)
        return s

    def tick(self):
        self.ts += int(self.r.expovariate(1 / 180)) + 1
        self.seq += 1
        return self.ts

    def hexid(self, bits):
        return "%0*x" % (bits // 4, self.r.getrandbits(bits))

    def chat(self):
        u = self.r.choice(self.users)
        m = {"type": "message", "id": "m-" + self.hexid(48), "room": self.r.choice(ROOMS),
             "user": u, "ts": self.tick(), "text": self.text()}
        if self.r.random() < 0.15:
            m["mentions"] = [self.r.choice(self.users)["id"] for _ in range(self.r.randint(1, 3))]
        if self.r.random() < 0.2:
            m["reactions"] = {self.r.choice(EMOJI): self.r.randint(1, 12)
                              for _ in range(self.r.randint(1, 3))}
        if self.r.random() < 0.1:
            m["thread"] = "m-" + self.hexid(48)
        return m

    def presence(self):
        u = self.r.choice(self.users)
        kind = self.r.choice(["presence", "typing", "read"])
        m = {"type": kind, "user": u["id"], "ts": self.tick()}
        if kind == "presence":
            m["status"] = self.r.choice(["online", "away", "offline", "dnd"])
            m["client"] = self.r.choice(CLIENTS)
        elif kind == "typing":
            m["room"] = self.r.choice(ROOMS)
        else:
            m["room"] = self.r.choice(ROOMS)
            m["last_read"] = "m-" + self.hexid(48)
        return m

    def telemetry(self):
        d = self.r.choice(self.devices)
        return {"type": "telemetry", "device": d, "seq": self.seq, "ts": self.tick(),
                "site": self.r.choice(UNITS), "floor": self.r.randint(0, 6),
                "metrics": {"temp_c": round(self.r.gauss(21.5, 1.8), 2),
                            "humidity_pct": round(self.r.gauss(44, 6), 1),
                            "co2_ppm": int(self.r.gauss(620, 140)),
                            "battery_pct": self.r.randint(5, 100),
                            "rssi_dbm": -self.r.randint(40, 95)},
                "status": self.r.choices(["ok", "degraded", "fault"], [92, 6, 2])[0],
                "firmware": "2.%d.%d" % (self.r.randint(3, 5), self.r.randint(0, 20))}

    def log(self):
        path = self.r.choice(PATHS).replace("{id}", str(self.r.randrange(1, 10 ** 6)))
        status = self.r.choices([200, 201, 204, 304, 400, 401, 404, 429, 500, 503],
                                [60, 8, 6, 6, 5, 3, 5, 2, 3, 2])[0]
        m = {"type": "log", "ts": self.tick(), "level": "error" if status >= 500 else
             "warn" if status >= 400 else "info", "service": self.r.choice(SERVICES),
             "msg": "request completed", "method": self.r.choice(["GET", "GET", "GET", "POST",
                                                                  "PUT", "DELETE"]),
             "path": path, "status": status,
             "duration_ms": round(self.r.lognormvariate(2.5, 0.9), 2),
             "bytes": self.r.randrange(120, 60000), "trace_id": self.hexid(128),
             "span_id": self.hexid(64)}
        if status >= 500:
            m["error"] = self.sentence()
        return m

    def history(self):
        room = self.r.choice(ROOMS)
        msgs = []
        for _ in range(self.r.randint(8, 40)):
            m = self.chat()
            m["room"] = room
            msgs.append(m)
        return {"type": "history", "room": room, "ts": self.tick(), "messages": msgs,
                "has_more": self.r.random() < 0.7}

    def message(self):
        kind = self.r.choices([self.chat, self.presence, self.telemetry, self.log, self.history],
                              [42, 14, 24, 16, 4])[0]
        return json.dumps(kind(), ensure_ascii=False, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=6455)
    a = ap.parse_args()
    g = Gen(a.seed)
    data = "\n".join(g.message() for _ in range(a.messages)).encode() + b"\n"
    with open(a.out, "wb") as f:
        f.write(data)
    print(f"corpus: {a.messages} messages, {len(data)} bytes "
          f"({len(data) / a.messages:.0f} per message), sha256 {hashlib.sha256(data).hexdigest()[:16]}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
