#!/usr/bin/python3
"""Scenario d: TTL expiry.

Send a message with ttl (default 0.5 s) to a queue with no consumer, then one without ttl; wait
(default 1.5 s); attach a receiver: the expired message must never arrive, the other must.
"""

import time

from proton import Message

import convoy_interop as ci


def scenario(args):
    conn = ci.connect(args)
    try:
        sender = ci.open_sender(conn, args.queue)
        m1 = Message(body="expires", id="ttl-1")
        m1.ttl = args.ttl
        m1.durable = False
        d = sender.send(m1)
        ci.check(d.remote_state == ci.Delivery.ACCEPTED, "ttl message: outcome %s" % d.remote_state)
        d = sender.send(Message(body="survives", id="ttl-2"))
        ci.check(d.remote_state == ci.Delivery.ACCEPTED, "plain message: outcome %s" % d.remote_state)
        # wait with the connection serviced (heartbeats, etc.)
        ci.pump(conn, args.wait)
        receiver = ci.open_receiver(conn, args.queue, 10)
        got = []
        deadline = time.monotonic() + args.listen
        while time.monotonic() < deadline:
            msg = ci.try_receive(receiver, max(0.01, deadline - time.monotonic()))
            if msg is None:
                break
            receiver.accept()
            got.append({"body": ci.body_text(msg), "id": msg.id, "ttl": msg.ttl})
        ci.pump(conn, 0.1)
        bodies = [g["body"] for g in got]
        ci.check("expires" not in bodies, "expired message (ttl %.3fs, waited %.3fs) was delivered" %
                 (args.ttl, args.wait), received=got)
        ci.check(bodies == ["survives"], "expected exactly the message without ttl, got %r" % bodies, received=got)
        return {"received": got}
    finally:
        ci.close_quietly(conn)


if __name__ == "__main__":
    p = ci.parser("ttl", __doc__)
    p.add_argument("--queue", default="interop.ttl")
    p.add_argument("--ttl", type=float, default=0.5)
    p.add_argument("--wait", type=float, default=1.5)
    p.add_argument("--listen", type=float, default=1.0)
    a = p.parse_args()
    ci.run(scenario, a)
