#!/usr/bin/python3
"""Scenario i: a group's handover never stalls (issue 8).

The owner receives A0 and A1 of group G (both unsettled) and then leaves with them unsettled; a second
consumer with credit must then receive A0 and A1 (A1 with delivery-count 1, in order) and the group's
later messages. Two ways in (--case):
- refused: the owner first settles A0 with modified{undeliverable-here}, then closes its connection;
- rebalance: the queue has groupRebalance; the owner holds A0 (group G) and B0 (group H) unsettled, the
  second consumer attaches (G starts moving to it once the owner holds nothing of G), A1 is sent and
  waits for the move, and the owner closes its connection before settling anything. The second
  consumer must then receive A0 (delivery-count 1), A1 and A2 (delivery-count 0), in order.
"""

import convoy_interop as ci


def scenario(args):
    owner_conn = ci.connect(args)
    owner = ci.open_receiver(owner_conn, args.queue, 10)
    ci.pump(owner_conn, 0.1)
    sender_conn = ci.connect(args)
    sender = ci.open_sender(sender_conn, args.queue)
    held = [("A0", "G"), ("A1", "G")] if args.case == "refused" else [("A0", "G"), ("B0", "H")]
    for body, group in held:
        sender.send(ci.Message(body=body, group_id=group))
    first = []
    for _ in range(len(held)):
        msg, delivery = ci.receive_with_delivery(owner, args.op_timeout)
        ci.check(msg is not None, "the owner received %r, not %r" % (first, held))
        first.append((ci.body_text(msg), delivery))
    ci.check([b for b, _ in first] == [b for b, _ in held], "the owner received %r" % [b for b, _ in first])

    other_conn = ci.connect(args)
    other = ci.open_receiver(other_conn, args.queue, 10)
    ci.pump(other_conn, 0.2)
    if args.case == "rebalance":
        sender.send(ci.Message(body="A1", group_id="G"))
        ci.pump(sender_conn, 0.1)
    else:
        refused = first[0][1]
        refused.local.undeliverable = True
        ci.settle_delivery(refused, ci.Delivery.MODIFIED)
        ci.pump(owner_conn, 0.1)
    owner_conn.close()
    sender.send(ci.Message(body="A2", group_id="G"))

    second = []
    while len(second) < 3:
        msg, delivery = ci.receive_with_delivery(other, args.op_timeout)
        ci.check(msg is not None, "the second consumer received only %r of group G: the group stalled" % second)
        ci.settle_delivery(delivery)
        if msg.group_id == "G":
            second.append((ci.body_text(msg), msg.delivery_count))
    ci.check([b for b, _ in second] == ["A0", "A1", "A2"], "the second consumer received %r" % second)
    # Returned by the owner's close: delivery-count + 1. Never delivered before (A1 when it waited for the
    # move, A2): 0. A0 refused with modified{undeliverable-here} without delivery-failed keeps its count.
    expected = {"refused": {"A1": 1, "A2": 0}, "rebalance": {"A0": 1, "A1": 0, "A2": 0}}[args.case]
    counts = {body: count for body, count in second if body in expected}
    ci.check(counts == expected, "delivery counts %r, expected %r" % (counts, expected))
    ci.close_quietly(sender_conn, other_conn)
    return {"received": second}


if __name__ == "__main__":
    p = ci.parser("group_handover", "a group's handover never stalls")
    p.add_argument("--queue", required=True)
    p.add_argument("--case", choices=["refused", "rebalance"], required=True)
    ci.run(scenario, p.parse_args())
