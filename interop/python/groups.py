#!/usr/bin/python3
"""Scenario f: message groups (DESIGN.md section 2) and owner failover.

Two consumers (separate connections, credit each) on queue G. Send A1,B1,A2,C1,B2,A3,C2 with
properties.group-id. Check: every group is received by exactly one consumer, in order; A and B
are on different consumers. The owner of A accepts its non-A messages and keeps A1..A3 unsettled;
A4 is sent and must also reach the owner. Then the owner is closed (--close link|connection) and
A5, A6 are sent: the other consumer must receive A1..A4 again first (delivery-count >= 1, in order),
then A5, A6 (delivery-count 0).
"""

import convoy_interop as ci


def by_group(msgs, group):
    return [m for m in msgs if m["group_id"] == group]


def scenario(args):
    consumers = []
    sconn = None
    try:
        c1 = ci.Consumer(args, "groups-r1", args.queue, args.credit)
        consumers.append(c1)
        c2 = ci.Consumer(args, "groups-r2", args.queue, args.credit)
        consumers.append(c2)
        ci.pump(c1.conn, 0.1)
        ci.pump(c2.conn, 0.1)
        sconn = ci.connect(args)
        sender = ci.open_sender(sconn, args.queue)

        plan = [("A", 1), ("B", 1), ("A", 2), ("C", 1), ("B", 2), ("A", 3), ("C", 2)]
        ci.send_all(sender, [ci.grouped("%s%d" % (g, n), g) for g, n in plan])

        col = ci.Collector([(c1.name, c1.receiver), (c2.name, c2.receiver)])
        col.collect(lambda c: c.total() >= len(plan), quiet_s=0.5, max_s=args.op_timeout)
        phase1 = {k: [m["body"] for m in v] for k, v in col.got.items()}
        ci.check(col.total() == len(plan), "phase 1: received %d of %d messages" % (col.total(), len(plan)),
                 received=phase1)

        owners = {}
        for g in "ABC":
            holders = [name for name, msgs in col.got.items() if by_group(msgs, g)]
            ci.check(len(holders) == 1, "group %s was split across consumers %s" % (g, holders), received=phase1)
            owners[g] = holders[0]
            seq = [m["body"] for m in by_group(col.got[holders[0]], g)]
            expected = ["%s%d" % (gg, n) for gg, n in plan if gg == g]
            ci.check(seq == expected, "group %s out of order on %s: %r" % (g, holders[0], seq), received=phase1)
        ci.check(owners["A"] != owners["B"],
                 "groups A and B both assigned to %s (expected the fewest-groups rule to spread them)"
                 % owners["A"], received=phase1)
        dcs = [m["delivery_count"] for v in col.got.values() for m in v]
        ci.check(all(d == 0 for d in dcs), "phase 1: first deliveries carry delivery-count %r" % dcs)

        owner = c1 if owners["A"] == c1.name else c2
        other = c2 if owner is c1 else c1
        # Everything except A stays accepted; A1..A3 remain unsettled at the owner.
        col.settle_where(other.name, lambda m: True)
        col.settle_where(owner.name, lambda m: m["group_id"] != "A")
        ci.pump(owner.conn, 0.05)
        ci.pump(other.conn, 0.05)

        # A4 while the owner lives (and holds unsettled A messages): still the owner's.
        ci.send_all(sender, [ci.grouped("A4", "A")])
        col.collect(lambda c: len(c.got[owner.name]) >= 4 and any(m["body"] == "A4" for m in c.got[owner.name]),
                    quiet_s=0.3, max_s=args.op_timeout)
        where_a4 = [n for n, v in col.got.items() if any(m["body"] == "A4" for m in v)]
        ci.check(where_a4 == [owner.name], "A4 (owner alive) went to %r, expected owner %s" % (where_a4, owner.name))

        before_close = {k: len(v) for k, v in col.got.items()}
        owner.close(args.close)
        col.remove(owner.name)

        ci.send_all(sender, [ci.grouped("A5", "A"), ci.grouped("A6", "A"), ci.grouped("B3", "B")])
        start = before_close[other.name]
        col.collect(lambda c: len(c.got[other.name]) - start >= 7, quiet_s=0.5, max_s=args.op_timeout)
        after = col.got[other.name][start:]
        a_after = [(m["body"], m["delivery_count"]) for m in after if m["group_id"] == "A"]
        summary = {"owners": owners, "phase1": phase1, "close": args.close,
                   "other_after_close": [(m["body"], m["delivery_count"]) for m in after]}
        ci.check([b for b, _ in a_after] == ["A1", "A2", "A3", "A4", "A5", "A6"],
                 "after the owner closed, the other consumer got group A as %r, expected A1..A6 in order"
                 % [b for b, _ in a_after], **summary)
        low = [(b, d) for b, d in a_after[:4] if d < 1]
        ci.check(not low, "returned messages without raised delivery-count: %r" % low, **summary)
        fresh = [(b, d) for b, d in a_after[4:] if d != 0]
        ci.check(not fresh, "new messages A5/A6 carry delivery-count %r" % fresh, **summary)
        b_after = [m["body"] for m in after if m["group_id"] == "B"]
        ci.check(b_after == ["B3"], "group B after close: %r, expected ['B3']" % b_after, **summary)
        ci.check(len(after) == 7, "other consumer got %d messages after the close, expected 7" % len(after),
                 **summary)

        col.settle_where(other.name, lambda m: True)
        ci.pump(other.conn, 0.1)
        col.collect(lambda c: True, quiet_s=0.5, max_s=1.0)
        extra = col.got[other.name][start + 7:]
        ci.check(not extra, "unexpected extra deliveries: %r" % extra, **summary)
        return summary
    finally:
        for c in consumers:
            c.shutdown()
        ci.close_quietly(sconn)


if __name__ == "__main__":
    p = ci.parser("groups", __doc__)
    p.add_argument("--queue", default="interop.groups")
    p.add_argument("--credit", type=int, default=10)
    p.add_argument("--close", choices=["link", "connection"], default="link")
    a = p.parse_args()
    ci.run(scenario, a)
