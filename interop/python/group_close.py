#!/usr/bin/python3
"""Scenario h: closing a group with group-sequence 4294967295.

Two consumers on queue H. Send A1, A2, A3 (group-sequence 4294967295 closes group A), then A4.
A1..A3 must reach one consumer in order; the group is then forgotten and A4 is assigned afresh
(only its delivery is asserted; which consumer gets it is reported). Consumers accept each
message on receipt.
"""

import convoy_interop as ci

CLOSE_SEQ = 4294967295  # JMSXGroupSeq = -1 wrapped into the uint range


def scenario(args):
    consumers = []
    sconn = None
    try:
        c1 = ci.Consumer(args, "gclose-r1", args.queue, args.credit)
        consumers.append(c1)
        c2 = ci.Consumer(args, "gclose-r2", args.queue, args.credit)
        consumers.append(c2)
        ci.pump(c1.conn, 0.1)
        ci.pump(c2.conn, 0.1)
        sconn = ci.connect(args)
        sender = ci.open_sender(sconn, args.queue)
        ci.send_all(sender, [ci.grouped("A1", "A", 1), ci.grouped("A2", "A", 2),
                             ci.grouped("A3", "A", CLOSE_SEQ), ci.grouped("A4", "A", 1)])
        # Consumers accept as they go, like real ones: whether A4 may be dispatched while A1..A3 are
        # still unsettled is not what this scenario is about.
        col = ci.Collector([(c1.name, c1.receiver), (c2.name, c2.receiver)], accept_on_receipt=True)
        col.collect(lambda c: c.total() >= 4, quiet_s=0.5, max_s=args.op_timeout)
        got = {k: [(m["body"], m["group_sequence"]) for m in v] for k, v in col.got.items()}
        bodies = {k: [m["body"] for m in v] for k, v in col.got.items()}
        ci.check(col.total() == 4, "received %d of 4 messages" % col.total(), received=got)
        owner = [k for k, v in bodies.items() if "A1" in v]
        ci.check(len(owner) == 1, "A1 not received exactly once", received=got)
        first3 = [b for b in bodies[owner[0]] if b in ("A1", "A2", "A3")]
        ci.check(first3 == ["A1", "A2", "A3"], "owner %s got %r, expected A1, A2, A3 in order" % (owner[0], first3),
                 received=got)
        a4 = [k for k, v in bodies.items() if "A4" in v]
        ci.check(len(a4) == 1, "A4 delivered %d times" % len(a4), received=got)
        a3_seq = [s for b, s in got[owner[0]] if b == "A3"]
        ci.check(a3_seq == [CLOSE_SEQ], "A3 group-sequence came back as %r" % a3_seq, received=got)
        for c in consumers:
            col.settle_where(c.name, lambda m: True)
            ci.pump(c.conn, 0.05)
        return {"received": got, "owner_a1_a3": owner[0], "a4_went_to": a4[0],
                "a4_same_consumer": a4[0] == owner[0]}
    finally:
        for c in consumers:
            c.shutdown()
        ci.close_quietly(sconn)


if __name__ == "__main__":
    p = ci.parser("group-close", __doc__)
    p.add_argument("--queue", default="interop.group-close")
    p.add_argument("--credit", type=int, default=10)
    a = p.parse_args()
    ci.run(scenario, a)
