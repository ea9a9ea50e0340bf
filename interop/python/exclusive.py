#!/usr/bin/python3
"""Scenario g: exclusive consumer failover.

Receiver 1 then receiver 2 attach to "X?consumer.exclusive=true" (separate connections, credit
each). M1..M6 are sent: all must reach receiver 1, none receiver 2. Receiver 1 accepts M1, M2 and
keeps M3..M6 unsettled, then is closed (--close link|connection); M7, M8 are sent. Receiver 2
must get M3..M6 first (delivery-count >= 1, in order), then M7, M8 (delivery-count 0).
"""

import convoy_interop as ci


def scenario(args):
    address = args.queue + "?consumer.exclusive=true"
    consumers = []
    sconn = None
    try:
        c1 = ci.Consumer(args, "excl-r1", address, args.credit)
        consumers.append(c1)
        ci.check(c1.receiver.link.remote_source.address == address,
                 "attach reply changed the source address to %r" % c1.receiver.link.remote_source.address)
        c2 = ci.Consumer(args, "excl-r2", address, args.credit)
        consumers.append(c2)
        ci.pump(c1.conn, 0.1)
        ci.pump(c2.conn, 0.1)
        sconn = ci.connect(args)
        sender = ci.open_sender(sconn, args.queue)
        first = ["M%d" % i for i in range(1, 7)]
        ci.send_all(sender, [ci.Message(body=b) for b in first])

        col = ci.Collector([(c1.name, c1.receiver), (c2.name, c2.receiver)])
        col.collect(lambda c: c.total() >= len(first), quiet_s=0.7, max_s=args.op_timeout)
        got1 = [m["body"] for m in col.got[c1.name]]
        got2 = [m["body"] for m in col.got[c2.name]]
        ci.check(got2 == [], "non-active exclusive consumer received %r" % got2, r1=got1, r2=got2)
        ci.check(got1 == first, "active exclusive consumer got %r, expected %r" % (got1, first))

        col.settle_where(c1.name, lambda m: m["body"] in ("M1", "M2"))
        ci.pump(c1.conn, 0.1)
        c1.close(args.close)
        col.remove(c1.name)

        ci.send_all(sender, [ci.Message(body="M7"), ci.Message(body="M8")])
        col.collect(lambda c: len(c.got[c2.name]) >= 6, quiet_s=0.5, max_s=args.op_timeout)
        after = [(m["body"], m["delivery_count"]) for m in col.got[c2.name]]
        summary = {"close": args.close, "r1": got1, "r2_after_failover": after}
        ci.check([b for b, _ in after] == ["M3", "M4", "M5", "M6", "M7", "M8"],
                 "after failover receiver 2 got %r, expected M3..M8 in order" % [b for b, _ in after], **summary)
        low = [(b, d) for b, d in after[:4] if d < 1]
        ci.check(not low, "returned messages without raised delivery-count: %r" % low, **summary)
        fresh = [(b, d) for b, d in after[4:] if d != 0]
        ci.check(not fresh, "new messages carry delivery-count %r" % fresh, **summary)
        col.settle_where(c2.name, lambda m: True)
        ci.pump(c2.conn, 0.1)
        col.collect(lambda c: True, quiet_s=0.5, max_s=1.0)
        ci.check(len(col.got[c2.name]) == 6, "unexpected extra deliveries: %r" % col.got[c2.name][6:], **summary)
        return summary
    finally:
        for c in consumers:
            c.shutdown()
        ci.close_quietly(sconn)


if __name__ == "__main__":
    p = ci.parser("exclusive", __doc__)
    p.add_argument("--queue", default="interop.exclusive")
    p.add_argument("--credit", type=int, default=10)
    p.add_argument("--close", choices=["link", "connection"], default="link")
    a = p.parse_args()
    ci.run(scenario, a)
