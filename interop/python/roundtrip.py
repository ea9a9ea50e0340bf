#!/usr/bin/python3
"""Scenario a: send N messages to a queue and receive them back, checking bodies and order.

--mode at-least-once : unsettled sends (wait for the broker's accepted outcome), receiver accepts.
--mode at-most-once  : AtMostOnce link option on sender and receiver (pre-settled both ways).
"""

from proton import Message
from proton.reactor import AtLeastOnce, AtMostOnce

import convoy_interop as ci


def scenario(args):
    opt = AtMostOnce() if args.mode == "at-most-once" else AtLeastOnce()
    bodies = ["%s-%d-%s" % (args.mode, i, "x" * (i % 7)) for i in range(args.count)]

    sconn = ci.connect(args)
    rconn = None
    try:
        sender = ci.open_sender(sconn, args.queue, options=opt)
        outcomes = {}
        for i, b in enumerate(bodies):
            dlv = sender.send(Message(body=b, properties={"i": i}))
            key = str(dlv.remote_state)
            outcomes[key] = outcomes.get(key, 0) + 1
            if args.mode == "at-least-once":
                ci.check(dlv.remote_state == ci.Delivery.ACCEPTED,
                         "message %d: broker outcome %s, expected ACCEPTED" % (i, dlv.remote_state))
        if args.mode == "at-most-once":
            # (On our sending link the broker's attach snd-settle-mode is only its wish, AMQP 1.0
            # 2.7.3; the sender's own value is the one in force, so it is not checked here.)
            # Pre-settled transfers have no acknowledgement: give the frames time to leave.
            ci.pump(sconn, 0.2)

        rconn = ci.connect(args)
        receiver = ci.open_receiver(rconn, args.queue, args.credit, options=opt)
        got = []
        presettled = 0
        for i in range(args.count):
            msg, dlv = ci.receive_with_delivery(receiver, args.op_timeout)
            ci.check(msg is not None, "timed out waiting for message %d of %d" % (i, args.count),
                     received=len(got))
            got.append(ci.body_text(msg))
            ci.check(msg.properties and msg.properties.get("i") == i,
                     "message %d carries application property i=%r" % (i, (msg.properties or {}).get("i")))
            if dlv is None:
                presettled += 1
            else:
                ci.settle_delivery(dlv)
        if args.mode == "at-most-once":
            ci.check(presettled == args.count,
                     "at-most-once receiver: %d of %d deliveries arrived unsettled" %
                     (args.count - presettled, args.count))
        else:
            ci.check(presettled == 0, "at-least-once receiver: %d deliveries arrived pre-settled" % presettled)
        ci.check(got == bodies, "bodies differ or out of order",
                 first_mismatch=next((i for i, (a, b) in enumerate(zip(got, bodies)) if a != b), None))
        extra = ci.try_receive(receiver, 0.5)
        ci.check(extra is None, "unexpected extra message after %d: %r" % (args.count, extra and extra.body))
        ci.pump(rconn, 0.1)  # flush dispositions before closing
        return {"mode": args.mode, "count": args.count, "received": len(got), "sender_outcomes": outcomes}
    finally:
        ci.close_quietly(sconn, rconn)


if __name__ == "__main__":
    p = ci.parser("roundtrip", __doc__)
    p.add_argument("--queue", default="interop.roundtrip")
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--credit", type=int, default=10)
    p.add_argument("--mode", choices=["at-least-once", "at-most-once"], default="at-least-once")
    a = p.parse_args()
    ci.run(scenario, a)
