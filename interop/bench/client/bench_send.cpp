// bench-send: AMQP 1.0 load producer for the Convoy benchmark (Qpid Proton C++).
//
//   bench-send --url amqp://127.0.0.1:5672 --address q --count 100000 --size 100
//              [--durable] [--settle at-least-once|at-most-once] [--rate 0] [--groups 0]
//              [--window 1000] [--connections 1] [--timeout 300]
//
// Every message carries message annotation x-opt-ts = send time (CLOCK_REALTIME, us, long).
// With --groups N > 0, properties.group-id cycles g0..g{N-1} round-robin.
// --rate is the total target rate in msgs/s over all connections (0 = as fast as credit
// and the unsettled window allow). Prints one JSON line on stdout at the end.
#include "common.hpp"

#include <proton/annotation_key.hpp>
#include <proton/binary.hpp>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/container.hpp>
#include <proton/delivery_mode.hpp>
#include <proton/duration.hpp>
#include <proton/error_condition.hpp>
#include <proton/message.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/sender.hpp>
#include <proton/sender_options.hpp>
#include <proton/symbol.hpp>
#include <proton/tracker.hpp>
#include <proton/transport.hpp>
#include <proton/work_queue.hpp>

#include <memory>
#include <vector>

using namespace bench;

struct Shared {
    std::string url, address;
    long long total = 0, size = 100, groups = 0, window = 1000;
    double rate = 0;
    bool durable = false, presettled = false;
    long long sent = 0, settled = 0, accepted = 0, rejected = 0, released = 0;
    long long group_counter = 0;
    int64_t start_us = 0, end_us = 0;
    int open_conns = 0;
    bool finished = false, failed = false;
    std::string error;
    proton::container* cont = nullptr;
    std::vector<proton::connection> conns;
};

static void finish(Shared& sh);

class Conn : public proton::messaging_handler {
    Shared& sh;
    long long quota;          // messages this connection sends
    double rate;              // msgs/s for this connection (0 = unlimited)
    long long sent = 0, settled = 0;
    proton::sender snd;
    proton::message msg;
    int64_t rate_start_us = 0;
    bool pump_scheduled = false;

  public:
    Conn(Shared& s, long long q, double r) : sh(s), quota(q), rate(r) {
        msg.body(proton::binary(std::string(size_t(s.size), 'x')));
        msg.durable(s.durable);
    }

    void on_connection_open(proton::connection& c) override {
        proton::sender_options so;
        so.auto_settle(false);
        so.delivery_mode(sh.presettled ? proton::delivery_mode::AT_MOST_ONCE : proton::delivery_mode::AT_LEAST_ONCE);
        c.open_sender(sh.address, so);
    }

    void on_sender_open(proton::sender& s) override { snd = s; }

    void on_sendable(proton::sender& s) override { snd = s; pump(); }

    void pump() {
        if (sh.finished || !snd) return;
        int64_t now = 0;
        long long allowed = quota - sent;
        if (rate > 0) {
            now = now_us();
            if (rate_start_us == 0) rate_start_us = now;
            long long due = (long long)((now - rate_start_us) * rate / 1e6) + 1;
            if (due - sent < allowed) allowed = due - sent;
        }
        if (!sh.presettled && sh.window - (sent - settled) < allowed) allowed = sh.window - (sent - settled);
        while (allowed > 0 && snd.credit() > 0) {
            if (sh.start_us == 0) sh.start_us = now_us();
            msg.message_annotations().put(proton::annotation_key(proton::symbol("x-opt-ts")), proton::value(int64_t(now_us())));
            if (sh.groups > 0) msg.group_id("g" + std::to_string(sh.group_counter++ % sh.groups));
            snd.send(msg);
            ++sent; ++sh.sent; --allowed;
            if (sh.presettled) { ++settled; ++sh.settled; ++sh.accepted; }
        }
        if (sh.presettled && sent == quota) { check_done(); return; }
        // Rate-limited and not done: come back in 1 ms (credit/window wake us via on_sendable/settles).
        if (rate > 0 && sent < quota && !pump_scheduled && snd.credit() > 0 &&
            (sh.presettled || sent - settled < sh.window)) {
            pump_scheduled = true;
            snd.connection().work_queue().schedule(proton::duration(1), [this]() { pump_scheduled = false; pump(); });
        }
    }

    void outcome(proton::tracker& t, long long& counter) {
        t.settle();
        ++counter; ++settled; ++sh.settled;
        if (sh.settled >= sh.total) check_done();
        else pump();
    }
    void on_tracker_accept(proton::tracker& t) override { outcome(t, sh.accepted); }
    void on_tracker_reject(proton::tracker& t) override { outcome(t, sh.rejected); }
    void on_tracker_release(proton::tracker& t) override { outcome(t, sh.released); }
    void on_tracker_settle(proton::tracker& t) override { if (t.state() == 0) outcome(t, sh.accepted); }

    void check_done() {
        if (sh.settled >= sh.total && !sh.finished) finish(sh);
    }

    void fail(const std::string& what, const proton::error_condition& e) {
        if (sh.finished) return;
        sh.failed = true;
        sh.error = what + ": " + e.what();
        finish(sh);
    }
    void on_transport_error(proton::transport& t) override { fail("transport", t.error()); }
    void on_connection_error(proton::connection& c) override { fail("connection", c.error()); }
    void on_session_error(proton::session& s) override { fail("session", s.error()); }
    void on_sender_error(proton::sender& s) override { fail("sender", s.error()); }
    void on_sender_close(proton::sender& s) override {
        if (!sh.finished) fail("sender closed by peer", s.error());
    }
};

static void finish(Shared& sh) {
    sh.finished = true;
    sh.end_us = now_us();
    double secs = sh.start_us ? (sh.end_us - sh.start_us) / 1e6 : 0;
    printf("{\"role\":\"sender\",\"ok\":%s,\"msgs\":%lld,\"sent\":%lld,\"accepted\":%lld,\"rejected\":%lld,"
           "\"released\":%lld,\"seconds\":%.6f,\"msg_per_s\":%.1f,\"start_us\":%lld,\"end_us\":%lld%s%s%s}\n",
           sh.failed ? "false" : "true", sh.settled, sh.sent, sh.accepted, sh.rejected, sh.released, secs,
           secs > 0 ? sh.settled / secs : 0.0, (long long)sh.start_us, (long long)sh.end_us,
           sh.failed ? ",\"error\":\"" : "", sh.failed ? json_escape(sh.error).c_str() : "", sh.failed ? "\"" : "");
    fflush(stdout);
    for (auto& c : sh.conns) if (c.active()) c.close();
    sh.cont->stop();
}

int main(int argc, char** argv) {
    Args a(argc, argv, "durable");
    Shared sh;
    sh.url = a.str("url", "amqp://127.0.0.1:5672");
    sh.address = a.str("address", "bench");
    sh.total = a.num("count", 100000);
    sh.size = a.num("size", 100);
    sh.durable = a.has("durable");
    std::string settle = a.str("settle", "at-least-once");
    if (settle != "at-least-once" && settle != "at-most-once") { fprintf(stderr, "--settle: at-least-once|at-most-once\n"); return 2; }
    sh.presettled = settle == "at-most-once";
    sh.rate = double(a.num("rate", 0));
    sh.groups = a.num("groups", 0);
    sh.window = a.num("window", 1000);
    int nconn = int(a.num("connections", 1));
    long long timeout_s = a.num("timeout", 300);
    if (nconn < 1 || sh.total < 1) { fprintf(stderr, "--connections and --count must be >= 1\n"); return 2; }

    std::vector<std::unique_ptr<Conn>> handlers;
    for (int i = 0; i < nconn; ++i) {
        long long q = sh.total / nconn + (i < sh.total % nconn ? 1 : 0);
        handlers.emplace_back(new Conn(sh, q, sh.rate / nconn));
    }
    struct Starter : proton::messaging_handler {
        Shared& sh; std::vector<std::unique_ptr<Conn>>& hs; long long timeout_s;
        Starter(Shared& s, std::vector<std::unique_ptr<Conn>>& h, long long t) : sh(s), hs(h), timeout_s(t) {}
        void on_container_start(proton::container& c) override {
            sh.cont = &c;
            for (auto& h : hs) {
                proton::connection_options co;
                co.handler(*h);
                co.sasl_allowed_mechs("ANONYMOUS");
                sh.conns.push_back(c.connect(sh.url, co));
            }
            deadline_us = now_us() + timeout_s * 1000000;
            tick();
        }
        // 100 ms housekeeping (a long-pending timer would hold container::run() open after stop()).
        int64_t deadline_us = 0, finished_at = 0;
        void tick() {
            int64_t now = now_us();
            if (!sh.finished && now > deadline_us) { sh.failed = true; sh.error = "timeout"; finish(sh); }
            if (sh.finished) {
                if (finished_at == 0) finished_at = now;
                else if (now - finished_at > 300000) { fflush(stdout); std::_Exit(sh.failed ? 1 : 0); }
            }
            sh.cont->schedule(proton::duration(100), [this]() { tick(); });
        }
    } starter(sh, handlers, timeout_s);
    proton::container cont(starter, "bench-send");
    try {
        cont.run();
    } catch (const std::exception& e) {
        fprintf(stderr, "bench-send: %s\n", e.what());
        return 1;
    }
    return sh.failed ? 1 : 0;
}
