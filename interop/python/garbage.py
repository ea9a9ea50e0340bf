#!/usr/bin/python3
"""Scenario e: garbage on raw TCP sockets must not disturb a well-behaved Proton client.

A Proton connection sends and receives a message before, between and after each raw-socket case:
  random        : random bytes (no AMQP header)      -> broker closes the socket
  wrong-header  : b"AMQP\\x01\\x01\\x00\\x00"          -> broker answers with a header it supports
                                                       (AMQP 0 1.0.0 or AMQP 3 1.0.0), then closes
  header-garbage: a valid AMQP header, then a 64-byte frame whose body is garbage -> broker closes
  huge-frame    : valid header, then a frame header claiming a ~2 GiB frame (far above the 512-byte
                  limit that applies before open, AMQP 1.0 2.4.1) -> broker closes, does not buffer
  half-header   : b"AM" then the client disconnects   -> nothing to check but survival
"""

import random
import socket
import struct
import time

from proton import Message

import convoy_interop as ci

AMQP_HEADER = b"AMQP\x00\x01\x00\x00"
SASL_HEADER = b"AMQP\x03\x01\x00\x00"


def parse_url(url):
    rest = url.split("://", 1)[-1].split("/", 1)[0]
    if "@" in rest:
        rest = rest.rsplit("@", 1)[1]
    host, _, port = rest.rpartition(":")
    return host or "127.0.0.1", int(port or 5672)


def raw_exchange(addr, payload, close_wait_s, send_in_chunks=False):
    """Write payload, then read until the peer closes or close_wait_s passes.
    Returns (bytes_received, closed_by_peer, how, seconds_to_close)."""
    s = socket.create_connection(addr, timeout=5)
    received = b""
    how = "open"
    t0 = time.monotonic()
    try:
        try:
            if send_in_chunks:
                for i in range(0, len(payload), 1024):
                    s.sendall(payload[i:i + 1024])
            else:
                s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError) as e:
            how = "write failed: %s" % type(e).__name__
        deadline = time.monotonic() + close_wait_s
        while how == "open":
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                how = "reset"
                break
            if not chunk:
                how = "eof"
                break
            received += chunk
    finally:
        s.close()
    return received, how != "open", how, round(time.monotonic() - t0, 3)


class Probe:
    """A Proton client connection that keeps working across the garbage cases."""

    def __init__(self, args):
        self.args = args
        self.conn = ci.connect(args)
        self.sender = ci.open_sender(self.conn, args.queue)
        self.receiver = ci.open_receiver(self.conn, args.queue, 5)
        self.n = 0

    def roundtrip(self, label):
        self.n += 1
        body = "probe-%d-%s" % (self.n, label)
        d = self.sender.send(Message(body=body))
        ci.check(d.remote_state == ci.Delivery.ACCEPTED,
                 "probe send %s: outcome %s" % (label, d.remote_state))
        msg = ci.try_receive(self.receiver, self.args.op_timeout)
        ci.check(msg is not None, "probe %s: no message received back" % label)
        self.receiver.accept()
        ci.check(msg.body == body, "probe %s: got %r expected %r" % (label, msg.body, body))


def scenario(args):
    addr = parse_url(args.url)
    rnd = random.Random(args.seed)
    probe = Probe(args)
    results = {}
    try:
        probe.roundtrip("before")

        garbage = bytes(rnd.getrandbits(8) for _ in range(4096))
        if garbage.startswith(b"AMQP"):
            garbage = b"\x00" + garbage[1:]
        rec, closed, how, secs = raw_exchange(addr, garbage, args.close_wait)
        results["random"] = {"reply_hex": rec[:64].hex(), "closed": closed, "how": how, "secs": secs}
        probe.roundtrip("after-random")

        rec, closed, how, secs = raw_exchange(addr, b"AMQP\x01\x01\x00\x00", args.close_wait)
        results["wrong-header"] = {"reply_hex": rec[:64].hex(), "closed": closed, "how": how, "secs": secs}
        probe.roundtrip("after-wrong-header")

        # a well-formed 64-byte AMQP frame header (doff 2, type 0, channel 0) around a garbage body:
        # small enough for the pre-open 512-byte limit, so the broker must decode it and fail.
        bad_frame = struct.pack(">IBBH", 64, 2, 0, 0) + garbage[:56]
        rec, closed, how, secs = raw_exchange(addr, AMQP_HEADER + bad_frame, args.close_wait)
        results["header-garbage"] = {"reply_hex": rec[:64].hex(), "closed": closed, "how": how, "secs": secs}
        probe.roundtrip("after-header-garbage")

        huge = AMQP_HEADER + struct.pack(">IBBH", 0x7FFFFFF0, 2, 0, 0) + garbage
        rec, closed, how, secs = raw_exchange(addr, huge, args.close_wait, send_in_chunks=True)
        results["huge-frame"] = {"reply_hex": rec[:64].hex(), "closed": closed, "how": how, "secs": secs}
        probe.roundtrip("after-huge-frame")

        s = socket.create_connection(addr, timeout=5)
        s.sendall(b"AM")
        s.close()
        probe.roundtrip("after-half-header")

        problems = []
        wh = bytes.fromhex(results["wrong-header"]["reply_hex"])
        if wh[:8] not in (AMQP_HEADER, SASL_HEADER):
            problems.append("wrong-header: expected the broker to answer %r or %r, got %r" %
                            (AMQP_HEADER, SASL_HEADER, wh[:8]))
        for case in ("random", "wrong-header", "header-garbage", "huge-frame"):
            if not results[case]["closed"]:
                problems.append("%s: broker left the socket open for %.1fs (received %d bytes)" %
                                (case, args.close_wait, len(results[case]["reply_hex"]) // 2))
        ci.check(not problems, "; ".join(problems), cases=results)
        return {"cases": results, "probe_roundtrips": probe.n}
    finally:
        ci.close_quietly(probe.conn)


if __name__ == "__main__":
    p = ci.parser("garbage", __doc__)
    p.add_argument("--queue", default="interop.garbage")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--close-wait", type=float, default=3.0,
                   help="seconds the broker gets to close a garbage connection")
    a = p.parse_args()
    ci.run(scenario, a)
