// bench-recv: AMQP 1.0 consumer for the Convoy benchmark (Qpid Proton C++).
//
//   bench-recv --url amqp://127.0.0.1:5672 --address q [--count N] [--credit 1000]
//              [--connections 1] [--idle-exit MS] [--timeout S]
//   bench-recv --listen 127.0.0.1:PORT [--count N] [--credit 1000]     ("null broker")
//
// Accepts every message. When a message carries message annotation x-opt-ts (send time,
// CLOCK_REALTIME us) its latency is recorded. Exits when --count messages arrived (0 = no
// limit), when no message arrived for --idle-exit ms after the first one, or after --timeout s.
// Events on stdout, one JSON object a line: {"event":"ready"} once every link is attached,
// {"event":"first"} at the first message; a final summary line with "role":"receiver".
// With --listen it accepts incoming connections and links itself: the sender talks to it
// directly, which measures what the client pair can do without any broker in between.
#include "common.hpp"

#include <proton/annotation_key.hpp>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/container.hpp>
#include <proton/delivery.hpp>
#include <proton/duration.hpp>
#include <proton/error_condition.hpp>
#include <proton/listen_handler.hpp>
#include <proton/listener.hpp>
#include <proton/message.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/receiver_options.hpp>
#include <proton/symbol.hpp>
#include <proton/transport.hpp>
#include <proton/value.hpp>
#include <proton/work_queue.hpp>

#include <algorithm>
#include <memory>
#include <vector>

using namespace bench;

struct Shared {
    std::string url, address, listen;
    long long total = 0, credit = 1000, idle_ms = 0, timeout_s = 300;
    long long received = 0, attached = 0, nconn = 1;
    int64_t first_us = 0, last_us = 0, start_us = 0;
    std::vector<uint32_t> lat_us;
    std::vector<long long> per_conn;
    bool finished = false, failed = false, timed_out = false;
    std::string error;
    proton::container* cont = nullptr;
    std::vector<proton::connection> conns;
    proton::listener lsn;
};

static const proton::annotation_key TS_KEY(proton::symbol("x-opt-ts"));

static double pct(std::vector<uint32_t>& v, double p) {
    if (v.empty()) return -1;
    size_t i = std::min(v.size() - 1, size_t(p * (v.size() - 1) + 0.5));
    return v[i] / 1000.0;
}

static void finish(Shared& sh) {
    if (sh.finished) return;
    sh.finished = true;
    double secs = sh.first_us ? (sh.last_us - sh.first_us) / 1e6 : 0;
    std::sort(sh.lat_us.begin(), sh.lat_us.end());
    std::string per = "[";
    for (size_t i = 0; i < sh.per_conn.size(); ++i) per += (i ? "," : "") + std::to_string(sh.per_conn[i]);
    per += "]";
    char lat[256] = "null";
    if (!sh.lat_us.empty())
        snprintf(lat, sizeof lat, "{\"n\":%zu,\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f}", sh.lat_us.size(),
                 pct(sh.lat_us, 0.5), pct(sh.lat_us, 0.99), pct(sh.lat_us, 0.999), sh.lat_us.back() / 1000.0);
    printf("{\"role\":\"receiver\",\"ok\":%s,\"msgs\":%lld,\"seconds\":%.6f,\"msg_per_s\":%.1f,\"first_us\":%lld,"
           "\"last_us\":%lld,\"per_conn\":%s,\"timeout\":%s,\"latency_ms\":%s%s%s%s}\n",
           sh.failed ? "false" : "true", sh.received, secs, secs > 0 ? (sh.received - 1) / secs : 0.0,
           (long long)sh.first_us, (long long)sh.last_us, per.c_str(), sh.timed_out ? "true" : "false", lat,
           sh.failed ? ",\"error\":\"" : "", sh.failed ? json_escape(sh.error).c_str() : "", sh.failed ? "\"" : "");
    fflush(stdout);
    for (auto& c : sh.conns) if (c.active()) c.close();
    if (!sh.listen.empty()) sh.lsn.stop();
    sh.cont->stop();
}

class Conn : public proton::messaging_handler {
    Shared& sh;
    size_t idx;

  public:
    Conn(Shared& s, size_t i) : sh(s), idx(i) {}

    void on_connection_open(proton::connection& c) override {
        if (!sh.listen.empty()) {            // null broker: answer the peer's open
            if (!c.active()) c.open();
            sh.conns.push_back(c);
            return;
        }
        c.open_receiver(sh.address, proton::receiver_options().credit_window(int(sh.credit)).auto_accept(true));
    }

    void on_receiver_open(proton::receiver& r) override {
        if (!r.active()) r.open(proton::receiver_options().credit_window(int(sh.credit)).auto_accept(true));
        if (++sh.attached == sh.nconn) event("ready");
    }

    void on_message(proton::delivery&, proton::message& m) override {
        if (sh.finished) return;
        int64_t now = now_us();
        if (sh.received == 0) { sh.first_us = now; event("first"); }
        sh.last_us = now;
        ++sh.received;
        ++sh.per_conn[idx];
        const auto& ma = m.message_annotations();
        if (ma.exists(TS_KEY)) {
            int64_t ts = proton::get<int64_t>(ma.get(TS_KEY));
            int64_t d = now - ts;
            sh.lat_us.push_back(uint32_t(d < 0 ? 0 : d > 0xffffffffLL ? 0xffffffffLL : d));
        }
        if (sh.total > 0 && sh.received >= sh.total) finish(sh);
    }

    void fail(const std::string& what, const proton::error_condition& e) {
        if (sh.finished) return;
        if (!sh.listen.empty() && what == "transport" && sh.received > 0) return;  // peer went away
        sh.failed = true;
        sh.error = what + ": " + e.what();
        finish(sh);
    }
    void on_transport_error(proton::transport& t) override { fail("transport", t.error()); }
    void on_connection_error(proton::connection& c) override { fail("connection", c.error()); }
    void on_session_error(proton::session& s) override { fail("session", s.error()); }
    void on_receiver_error(proton::receiver& r) override { fail("receiver", r.error()); }
    void on_receiver_close(proton::receiver& r) override {
        if (sh.listen.empty() && !sh.finished) fail("receiver closed by peer", r.error());
    }
};

struct Listener : proton::listen_handler {
    Shared& sh; std::vector<std::unique_ptr<Conn>>& hs;
    Listener(Shared& s, std::vector<std::unique_ptr<Conn>>& h) : sh(s), hs(h) {}
    proton::connection_options on_accept(proton::listener&) override {
        hs.emplace_back(new Conn(sh, hs.size()));
        sh.per_conn.push_back(0);
        return proton::connection_options().handler(*hs.back());
    }
    void on_open(proton::listener& l) override { event("listening", "\"port\":" + std::to_string(l.port())); }
    void on_error(proton::listener&, const std::string& what) override {
        sh.failed = true; sh.error = "listen: " + what; finish(sh);
    }
};

struct Starter : proton::messaging_handler {
    Shared& sh; std::vector<std::unique_ptr<Conn>>& hs; Listener& lh;
    Starter(Shared& s, std::vector<std::unique_ptr<Conn>>& h, Listener& l) : sh(s), hs(h), lh(l) {}
    void on_container_start(proton::container& c) override {
        sh.cont = &c;
        sh.start_us = now_us();
        if (!sh.listen.empty()) {
            sh.lsn = c.listen(sh.listen, lh);
        } else {
            for (long long i = 0; i < sh.nconn; ++i) {
                hs.emplace_back(new Conn(sh, size_t(i)));
                sh.per_conn.push_back(0);
                proton::connection_options co;
                co.handler(*hs.back());
                co.sasl_allowed_mechs("ANONYMOUS");
                sh.conns.push_back(c.connect(sh.url, co));
            }
        }
        tick();
    }
    int64_t finished_at = 0;
    void tick() {  // 50 ms housekeeping: idle exit, overall timeout, hard exit if close hangs
        int64_t now = now_us();
        if (sh.finished) {
            if (finished_at == 0) finished_at = now;
            else if (now - finished_at > 300000) { fflush(stdout); std::_Exit(sh.failed ? 1 : 0); }
            sh.cont->schedule(proton::duration(50), [this]() { tick(); });
            return;
        }
        if (now - sh.start_us > sh.timeout_s * 1000000) { sh.timed_out = true; finish(sh); return; }
        if (sh.idle_ms > 0 && sh.received > 0 && now - sh.last_us > sh.idle_ms * 1000) { finish(sh); return; }
        sh.cont->schedule(proton::duration(50), [this]() { tick(); });
    }
};

int main(int argc, char** argv) {
    Args a(argc, argv, "");
    Shared sh;
    sh.url = a.str("url", "amqp://127.0.0.1:5672");
    sh.address = a.str("address", "bench");
    sh.listen = a.str("listen", "");
    sh.total = a.num("count", 0);
    sh.credit = a.num("credit", 1000);
    sh.nconn = a.num("connections", 1);
    sh.idle_ms = a.num("idle-exit", 0);
    sh.timeout_s = a.num("timeout", 300);
    if (sh.total > 0) sh.lat_us.reserve(size_t(sh.total));
    if (!sh.listen.empty()) sh.nconn = 1;
    std::vector<std::unique_ptr<Conn>> handlers;
    Listener lh(sh, handlers);
    Starter starter(sh, handlers, lh);
    proton::container cont(starter, "bench-recv");
    try {
        cont.run();
    } catch (const std::exception& e) {
        fprintf(stderr, "bench-recv: %s\n", e.what());
        return 1;
    }
    return sh.failed ? 1 : 0;
}
