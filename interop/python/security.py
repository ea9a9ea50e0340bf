#!/usr/bin/python3
"""Security scenarios: logins over TCP and TLS, and what a logged-in user may attach to and send.

--check login          : log in (credentials, client certificate, or none) and round-trip a message on --queue.
--check refused        : the login must fail; reports the condition Proton saw.
--check authorization  : logged in, a receiver and a sender on --denied are refused (null terminus, detach
                         amqp:unauthorized-access naming the permission and the address); through the anonymous
                         relay a message to --denied is rejected with the same condition and one to --queue is
                         accepted; the connection keeps working throughout.

TLS: an amqps:// --url with --ca (the CA that signed the broker's certificate), optionally --cert/--key (a client
certificate, for SASL EXTERNAL). Debian's Proton is built without Cyrus SASL: it speaks ANONYMOUS, PLAIN and
EXTERNAL, and picks PLAIN even when the broker offers SCRAM-SHA-256 first.
"""

from proton import ConnectionException, Delivery, Message, SSLDomain
from proton.utils import BlockingConnection, LinkDetached

import convoy_interop as ci


def connect(args):
    kwargs = {"timeout": args.op_timeout, "sasl_enabled": True}
    if args.user is not None:
        kwargs.update(user=args.user, password=args.password)
    if args.mechs:
        kwargs["allowed_mechs"] = args.mechs
    if args.insecure:
        kwargs["allow_insecure_mechs"] = True
    if args.url.startswith("amqps://"):
        domain = SSLDomain(SSLDomain.MODE_CLIENT)
        domain.set_trusted_ca_db(args.ca)
        domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
        if args.cert:
            domain.set_credentials(args.cert, args.key, None)
        kwargs["ssl_domain"] = domain
    return BlockingConnection(args.url, **kwargs)


def round_trip(conn, queue, body):
    sender = ci.open_sender(conn, queue)
    receiver = ci.open_receiver(conn, queue, 1)
    ci.send_all(sender, [Message(body=body)])
    msg, dlv = ci.receive_with_delivery(receiver, 5)
    ci.check(msg is not None and ci.body_text(msg) == body, "round trip on %s: got %r" % (queue, msg and msg.body))
    ci.settle_delivery(dlv)
    ci.close_quietly(sender, receiver)


def refused_link(open_link, what):
    try:
        link = open_link()
    except LinkDetached as e:
        condition = e.link.remote_condition
        return {"condition": condition and condition.name, "description": condition and condition.description}
    ci.close_quietly(link)
    raise ci.CheckFailed("%s was attached, expected a refusal" % what)


def login(args):
    conn = connect(args)
    try:
        round_trip(conn, args.queue, "hello over %s" % args.url.split(":")[0])
        return {"user": args.user}
    finally:
        ci.close_quietly(conn)


def refused(args):
    try:
        conn = connect(args)
    except ConnectionException as e:
        return {"error": str(e)}
    try:
        # A refused open arrives as open then close: the next blocking call sees the close.
        ci.open_sender(conn, args.queue)
    except (ConnectionException, LinkDetached) as e:
        return {"error": str(e)}
    finally:
        ci.close_quietly(conn)
    raise ci.CheckFailed("the login was accepted")


def authorization(args):
    conn = connect(args)
    try:
        receiver = refused_link(lambda: conn.create_receiver(args.denied, credit=1), "receiver on %s" % args.denied)
        sender = refused_link(lambda: conn.create_sender(args.denied), "sender to %s" % args.denied)
        relay = conn.create_sender(None)
        denied = relay.send(Message(address=args.denied, body="no"), error_states=[])
        allowed = relay.send(Message(address=args.queue + ".relayed", body="yes"), error_states=[])
        ci.check(denied.remote_state == Delivery.REJECTED, "relayed message to %s: %s, expected REJECTED" % (args.denied, denied.remote_state))
        ci.check(allowed.remote_state == Delivery.ACCEPTED, "relayed message to %s.relayed: %s, expected ACCEPTED" % (args.queue, allowed.remote_state))
        condition = denied.remote.condition
        round_trip(conn, args.queue, "still working")
        return {
            "receiver": receiver,
            "sender": sender,
            "relay": {"condition": condition and condition.name, "description": condition and condition.description},
        }
    finally:
        ci.close_quietly(conn)


CHECKS = {"login": login, "refused": refused, "authorization": authorization}

if __name__ == "__main__":
    p = ci.parser("security", __doc__)
    p.add_argument("--check", choices=sorted(CHECKS), required=True)
    p.add_argument("--queue", default="orders.python")
    p.add_argument("--denied", default="billing.python")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--mechs", help="SASL mechanisms the client may use, e.g. PLAIN or EXTERNAL")
    p.add_argument("--insecure", action="store_true", help="allow PLAIN over a connection without TLS")
    p.add_argument("--ca", help="CA file that signed the broker's certificate (amqps)")
    p.add_argument("--cert", help="client certificate (PEM)")
    p.add_argument("--key", help="client certificate's private key (PEM)")
    a = p.parse_args()
    ci.run(CHECKS[a.check], a)
