#!/usr/bin/python3
"""Scenario i: the operator views over AMQP, read with Qpid Proton's blocking receiver.

A message is sent to --queue so that it exists; then, on one connection, `$convoy/queues` and
`$convoy/groups/<queue>` are each read twice with BlockingConnection.create_receiver (its flow goes
out right behind its attach): every read returns one JSON message describing the queue, and the
connection stays usable for an ordinary round trip afterwards.
"""

import json

from proton import Message

import convoy_interop as ci


def read_view(conn, address, timeout):
    receiver = conn.create_receiver(address, credit=1)
    msg = receiver.receive(timeout=timeout)
    receiver.accept()
    ci.close_quietly(receiver)
    ci.check(msg.content_type == "application/json", "content-type %r" % msg.content_type)
    return json.loads(ci.body_text(msg))


def scenario(args):
    conn = ci.connect(args)
    try:
        sender = ci.open_sender(conn, args.queue)
        d = sender.send(Message(body="for the view", group_id="G1"))
        ci.check(d.remote_state == ci.Delivery.ACCEPTED, "send: outcome %s" % d.remote_state)
        views = []
        for _ in range(2):
            queues = read_view(conn, "$convoy/queues", args.op_timeout)
            names = [q.get("name") for q in queues.get("queues", [])]
            ci.check(args.queue in names, "queue %s not in $convoy/queues: %r" % (args.queue, names), view=queues)
            groups = read_view(conn, "$convoy/groups/" + args.queue, args.op_timeout)
            ci.check(json.dumps(groups).find("G1") >= 0, "group G1 not in the groups view", view=groups)
            views.append({"queues": names})
        receiver = ci.open_receiver(conn, args.queue, 1)
        msg = ci.try_receive(receiver, args.op_timeout)
        ci.check(msg is not None and ci.body_text(msg) == "for the view", "round trip after the views: %r" % msg)
        receiver.accept()
        return {"reads": len(views) * 2}
    finally:
        ci.close_quietly(conn)


if __name__ == "__main__":
    p = ci.parser("admin_views", __doc__)
    p.add_argument("--queue", default="interop.admin")
    a = p.parse_args()
    ci.run(scenario, a)
