#!/usr/bin/python3
"""Scenario c: a large binary body (default 10 MiB, data section) round trip, byte-for-byte."""

import hashlib
import os

from proton import Message

import convoy_interop as ci


def scenario(args):
    payload = os.urandom(args.size)
    digest = hashlib.sha256(payload).hexdigest()
    conn = ci.connect(args)
    try:
        sender = ci.open_sender(conn, args.queue)
        msg = Message(body=payload, id="large-1")
        msg.inferred = True  # data section
        d = sender.send(msg)
        ci.check(d.remote_state == ci.Delivery.ACCEPTED, "broker outcome %s, expected ACCEPTED" % d.remote_state)
        receiver = ci.open_receiver(conn, args.queue, 1)
        got = ci.try_receive(receiver, args.op_timeout)
        ci.check(got is not None, "timed out waiting for the %d-byte message" % args.size)
        receiver.accept()
        body = got.body
        ci.check(isinstance(body, bytes), "body came back as %s, expected bytes (data section)" % type(body).__name__)
        ci.check(len(body) == len(payload), "length differs: sent %d got %d" % (len(payload), len(body)))
        if body != payload:
            first = next(i for i in range(len(body)) if body[i] != payload[i])
            raise ci.CheckFailed("body differs, first differing byte at offset %d" % first)
        ci.check(got.id == "large-1", "message id changed: %r" % got.id)
        ci.pump(conn, 0.1)
        return {"size": args.size, "sha256": digest}
    finally:
        ci.close_quietly(conn)


if __name__ == "__main__":
    p = ci.parser("large", __doc__)
    p.add_argument("--queue", default="interop.large")
    p.add_argument("--size", type=int, default=10 * 1024 * 1024)
    a = p.parse_args()
    ci.run(scenario, a)
