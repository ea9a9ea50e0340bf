"""Shared helpers for the Convoy Qpid Proton Python interop scenarios.

Every scenario script:
  * takes ``--url amqp://127.0.0.1:PORT`` plus its own arguments,
  * prints exactly one JSON line on stdout (``{"scenario": ..., "ok": true|false, ...}``),
  * exits 0 on success, 1 when a check failed, 2 on an unexpected error, 3 on its own hard timeout.

Diagnostics go to stderr. Run with the Debian interpreter (``/usr/bin/python3``) that has
``python3-qpid-proton``.
"""

import argparse
import json
import os
import signal
import sys
import time
import traceback

from proton import Delivery, Message, Timeout  # noqa: F401  (re-exported for scenarios)
from proton.utils import BlockingConnection

DEFAULT_HARD_TIMEOUT_S = 30.0

_state = {"scenario": "unknown", "done": False}


class CheckFailed(Exception):
    """A scenario assertion did not hold; carries a human-readable description."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.details = details


def log(*parts):
    print("[%s %.3f]" % (_state["scenario"], time.monotonic()), *parts, file=sys.stderr, flush=True)


def emit(result):
    if _state["done"]:
        return
    _state["done"] = True
    sys.stdout.write(json.dumps(result, default=_json_default, sort_keys=True) + "\n")
    sys.stdout.flush()


def _json_default(o):
    if isinstance(o, bytes):
        return o.hex()
    return repr(o)


def _on_alarm(signum, frame):  # noqa: ARG001
    stack = "".join(traceback.format_stack(frame)) if frame is not None else ""
    emit({"scenario": _state["scenario"], "ok": False, "error": "hard timeout: scenario did not finish",
          "stack": stack})
    sys.stderr.write("hard timeout in scenario %s\n%s\n" % (_state["scenario"], stack))
    sys.stderr.flush()
    os._exit(3)


def parser(scenario, description):
    _state["scenario"] = scenario
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--url", required=True, help="broker URL, e.g. amqp://127.0.0.1:5672")
    p.add_argument("--hard-timeout", type=float, default=DEFAULT_HARD_TIMEOUT_S,
                   help="seconds after which the script aborts itself (default %(default)s)")
    p.add_argument("--op-timeout", type=float, default=10.0,
                   help="seconds to wait for any single blocking operation (default %(default)s)")
    return p


def run(scenario_fn, args):
    """Run ``scenario_fn(args) -> dict`` under a hard timeout and report one JSON line."""
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, args.hard_timeout)
    started = time.monotonic()
    try:
        result = scenario_fn(args) or {}
        result.setdefault("scenario", _state["scenario"])
        result["ok"] = True
        result["elapsed_s"] = round(time.monotonic() - started, 3)
        emit(result)
        code = 0
    except CheckFailed as e:
        emit(dict(scenario=_state["scenario"], ok=False, error=str(e), details=e.details,
                  elapsed_s=round(time.monotonic() - started, 3)))
        sys.stderr.write("CHECK FAILED: %s\n" % e)
        code = 1
    except BaseException as e:  # noqa: BLE001 - report anything, never hang
        tb = traceback.format_exc()
        emit(dict(scenario=_state["scenario"], ok=False, error="%s: %s" % (type(e).__name__, e),
                  traceback=tb, elapsed_s=round(time.monotonic() - started, 3)))
        sys.stderr.write(tb)
        code = 2
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit: do not let proton finalizers or lingering sockets delay or change the exit code.
    os._exit(code)


def check(cond, message, **details):
    if not cond:
        raise CheckFailed(message, **details)


def connect(args, **kwargs):
    return BlockingConnection(args.url, timeout=args.op_timeout, **kwargs)


# Diagnostic knob, off by default: with CONVOY_INTEROP_FLOW_AFTER_ATTACH=1 receivers grant credit
# only after the broker's attach reply has arrived. By default they behave like ordinary Proton
# clients (BlockingConnection.create_receiver(credit=N)), whose first flow frame goes out right
# behind the attach, before the broker has answered it.
FLOW_AFTER_ATTACH = os.environ.get("CONVOY_INTEROP_FLOW_AFTER_ATTACH") == "1"
# Diagnostic knob, off by default: with CONVOY_INTEROP_UNIQUE_LINK_NAMES=1 every link gets a unique
# name. By default Proton names a link "<container-id>-<address>", so a sender and a receiver for
# the same address on one connection share a name (legal: they are different links, AMQP 1.0 2.6.1).
UNIQUE_LINK_NAMES = os.environ.get("CONVOY_INTEROP_UNIQUE_LINK_NAMES") == "1"
_link_seq = [0]


def _link_name(name, address, role):
    if name is not None or not UNIQUE_LINK_NAMES:
        return name
    _link_seq[0] += 1
    return "%s-%s-%d" % (role, address, _link_seq[0])


def open_sender(conn, address, options=None, name=None):
    return conn.create_sender(address, name=_link_name(name, address, "snd"), options=options)


def open_receiver(conn, address, credit, name=None, options=None):
    name = _link_name(name, address, "rcv")
    if not FLOW_AFTER_ATTACH:
        return conn.create_receiver(address, credit=credit, name=name, options=options)
    rcv = conn.create_receiver(address, credit=None, name=name, options=options)  # waits for attach reply
    rcv.link.flow(credit)
    return rcv


def close_quietly(*things):
    for t in things:
        if t is None:
            continue
        try:
            t.close()
        except Exception as e:  # noqa: BLE001
            log("ignored error while closing %r: %s" % (t, e))


def pump(conn, seconds):
    """Process I/O on one BlockingConnection for ``seconds`` (flushes frames such as flow)."""
    deadline = time.monotonic() + seconds
    container = conn.container
    saved = container.timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            container.timeout = min(left, 0.05)
            container.process()
    finally:
        container.timeout = saved


def try_receive(receiver, timeout):
    """Receive one message or return None after ``timeout`` seconds."""
    try:
        return receiver.receive(timeout=timeout)
    except Timeout:
        return None


def receive_with_delivery(receiver, timeout):
    """Like try_receive but returns (message, delivery) where delivery is the unsettled Delivery
    (None when the broker sent it pre-settled). The caller settles it with settle_delivery()."""
    msg = try_receive(receiver, timeout)
    if msg is None:
        return None, None
    unsettled = receiver.fetcher.unsettled
    dlv = unsettled.pop() if unsettled else None  # Fetcher.pop() just appended it
    return msg, dlv


def settle_delivery(delivery, state=Delivery.ACCEPTED):
    if delivery is not None and not delivery.settled:
        delivery.update(state)
        delivery.settle()


def body_text(msg):
    b = msg.body
    if isinstance(b, bytes):
        return b.decode("utf-8", "replace")
    return b if isinstance(b, str) else repr(b)


def describe(msg):
    """A compact JSON-able summary of a received message."""
    return {
        "body": body_text(msg),
        "group_id": msg.group_id,
        "group_sequence": msg.group_sequence,
        "delivery_count": msg.delivery_count,
    }


class Collector:
    """Collects messages from several BlockingReceivers (each may live on its own connection).

    ``collect(until, quiet_s, max_s)`` polls every receiver in turn until ``until(self)`` is true
    and no new message has arrived for ``quiet_s``, or ``max_s`` has passed.
    """

    def __init__(self, receivers, accept_on_receipt=False):
        self.accept_on_receipt = accept_on_receipt  # accept each delivery as soon as it arrives
        self.receivers = dict(receivers)  # name -> BlockingReceiver
        self.got = {name: [] for name in self.receivers}
        self.order = []  # (name, summary) in arrival order as observed
        self.deliveries = {name: [] for name in self.receivers}  # parallel to got: Delivery or None

    def remove(self, name):
        self.receivers.pop(name, None)

    def total(self):
        return sum(len(v) for v in self.got.values())

    def poll_once(self, slice_s=0.02):
        n = 0
        for name, rcv in list(self.receivers.items()):
            while True:
                msg, dlv = receive_with_delivery(rcv, slice_s)
                if msg is None:
                    break
                if self.accept_on_receipt:
                    settle_delivery(dlv)  # the disposition leaves with the next I/O on this connection
                d = describe(msg)
                self.got[name].append(d)
                self.deliveries[name].append(dlv)
                self.order.append((name, d))
                n += 1
        return n

    def settle_where(self, name, pred, state=Delivery.ACCEPTED):
        """Settle (accept by default) every still-unsettled delivery of ``name`` whose summary
        matches ``pred``; returns how many were settled. Call pump() afterwards to flush."""
        n = 0
        for d, dlv in zip(self.got[name], self.deliveries[name]):
            if dlv is not None and not dlv.settled and pred(d):
                settle_delivery(dlv, state)
                n += 1
        return n

    def collect(self, until=lambda c: True, quiet_s=0.3, max_s=10.0):
        deadline = time.monotonic() + max_s
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            if self.poll_once():
                last_new = time.monotonic()
            if until(self) and time.monotonic() - last_new >= quiet_s:
                return True
        return until(self)


class Consumer:
    """One BlockingConnection holding one BlockingReceiver (so it can be closed by link or by
    connection)."""

    def __init__(self, args, name, address, credit):
        self.name = name
        self.conn = connect(args)
        self.receiver = open_receiver(self.conn, address, credit, name=name)
        pump(self.conn, 0.05)  # get the flow frame onto the wire

    def close(self, mode):
        """mode 'link': detach the receiving link (closed=true), keep the connection;
        'connection': close the whole connection. Unsettled deliveries stay unsettled."""
        if mode == "link":
            self.receiver.close()
            pump(self.conn, 0.05)
        else:
            self.conn.close()

    def shutdown(self):
        close_quietly(self.conn)


def send_all(sender, messages):
    for m in messages:
        d = sender.send(m)
        check(d.remote_state == Delivery.ACCEPTED,
              "send %r: broker outcome %s, expected ACCEPTED" % (m.body, d.remote_state))


def grouped(body, group, seq=None):
    m = Message(body=body)
    m.group_id = group
    if seq is not None:
        m.group_sequence = seq
    return m
