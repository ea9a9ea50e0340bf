#!/usr/bin/python3
"""Scenario b: AMQP type fidelity through the broker.

Message 1: application properties AND message annotations hold one value of every AMQP type
Proton Python can express with an exact Python type; body is a dict (amqp-value); all properties
fields set. Message 2: binary body (data section). The receiver checks every value comes back with
the same Python/proton type and the same value.
"""

import uuid

from proton import (Array, Described, Message, UNDESCRIBED, Data, byte, char, decimal32, decimal64,
                    decimal128, float32, int32, short, symbol, timestamp, ubyte, uint, ulong, ushort)

import convoy_interop as ci


def sample_values():
    """name -> value; every value's exact class selects its AMQP encoding in Proton Python."""
    return {
        "null": None,
        "bool_true": True,
        "bool_false": False,
        "ubyte": ubyte(200),
        "byte": byte(-7),
        "ushort": ushort(65000),
        "short": short(-32000),
        "uint": uint(4000000000),
        "uint_small": uint(3),
        "int": int32(-2000000000),
        "int_small": int32(5),
        "char": char("\u00e9"),
        "ulong": ulong(18000000000000000000),
        "ulong_small": ulong(42),
        "long": -9000000000000000000,
        "long_small": 7,
        "timestamp": timestamp(1700000000123),
        "float": float32(1.5),
        "double": 3.141592653589793,
        "decimal32": decimal32(0x22500001),
        "decimal64": decimal64(0x2238000000000001),
        "decimal128": decimal128(bytes(range(16))),
        "uuid": uuid.UUID("12345678-1234-5678-9abc-def012345678"),
        "binary": b"\x00\x01\xfe\xff binary",
        "binary_empty": b"",
        "string": "h\u00e9llo \u2603",
        "string_empty": "",
        "symbol": symbol("a-symbol"),
        "described": Described(symbol("convoy:test"), "described value"),
        "described_ulong": Described(ulong(0x77), [1, "two"]),
        "list": [ubyte(1), "two", symbol("three"), None, [short(4)]],
        "list_empty": [],
        "map": {"k": "v", symbol("s"): byte(1), 3: uint(4), "nested": {"x": [True]}},
        "map_empty": {},
        "array_int": Array(UNDESCRIBED, Data.INT, int32(1), int32(2), int32(-3)),
        "array_symbol": Array(UNDESCRIBED, Data.SYMBOL, symbol("a"), symbol("b")),
        "array_described": Array(symbol("convoy:d"), Data.STRING, "x", "y"),
        "array_empty_long": Array(UNDESCRIBED, Data.LONG),
    }


def type_signature(v):
    """A recursive (type name, value) signature so that nested types are compared too."""
    if isinstance(v, Described):
        return ("Described", type_signature(v.descriptor), type_signature(v.value))
    if isinstance(v, Array):
        return ("Array", type_signature(v.descriptor), v.type, [type_signature(e) for e in v.elements])
    if isinstance(v, dict):
        return ("dict", sorted(((repr(type_signature(k)), type_signature(x)) for k, x in v.items()),
                               key=lambda kv: kv[0]))
    if isinstance(v, (list, tuple)):
        return ("list", [type_signature(e) for e in v])
    if v is UNDESCRIBED:
        return ("UNDESCRIBED",)
    if isinstance(v, float) and v != v:
        return (type(v).__name__, "nan")
    return (type(v).__name__, repr(v))


def compare_maps(where, sent, got, problems):
    if not isinstance(got, dict):
        problems.append({"where": where, "problem": "not a map", "got": repr(got)})
        return
    sent_keys = {repr(type_signature(k)): k for k in sent}
    got_keys = {repr(type_signature(k)): k for k in got}
    for ks, k in sent_keys.items():
        if ks not in got_keys:
            problems.append({"where": where, "key": repr(k), "problem": "missing (or key type changed)",
                             "got_keys": sorted(repr(x) for x in got.keys())})
            continue
        a, b = type_signature(sent[k]), type_signature(got[got_keys[ks]])
        if a != b:
            problems.append({"where": where, "key": str(k), "sent": repr(a), "got": repr(b)})
    for ks, k in got_keys.items():
        if ks not in sent_keys:
            problems.append({"where": where, "key": repr(k), "problem": "unexpected extra key"})


PROPERTY_FIELDS = {
    "id": "msg-id-1",
    "correlation_id": uuid.UUID("87654321-4321-8765-cba9-876543210fed"),
    "subject": "the subject",
    "reply_to": "interop.reply",
    "content_type": "application/x-convoy-test",
    "content_encoding": "identity",
    "group_id": "group-1",
    "group_sequence": 17,
    "reply_to_group_id": "reply-group",
    "user_id": b"anonymous",
    "creation_time": 1700000000.5,
    "durable": True,
    "priority": 7,
}


def scenario(args):
    values = sample_values()
    props = dict(values)
    annotations = {symbol("x-opt-" + k.replace("_", "-")): v for k, v in values.items()}
    dict_body = {"str": "s", "sym": symbol("y"), "ulong": ulong(9), "byte": byte(-1),
                 "list": [int32(1), 2, float32(0.5)], "nested": {symbol("k"): timestamp(5)}}
    binary_body = bytes(range(256)) * 4

    m1 = Message(body=dict_body, properties=props, annotations=annotations)
    for f, v in PROPERTY_FIELDS.items():
        setattr(m1, f, v)
    m2 = Message(body=binary_body, id=ulong(2), correlation_id=b"corr-bin", subject="bin")
    m2.inferred = True  # binary body as a data section, not an amqp-value
    m3 = Message(body=symbol("a-symbol-body"), id=uuid.UUID("00000000-0000-0000-0000-000000000003"))
    m4 = Message(body=[ubyte(1), "list-body", Described(symbol("d"), 1)], id="m4")

    conn = ci.connect(args)
    try:
        sender = ci.open_sender(conn, args.queue)
        for m in (m1, m2, m3, m4):
            d = sender.send(m)
            ci.check(d.remote_state == ci.Delivery.ACCEPTED, "broker outcome %s, expected ACCEPTED" % d.remote_state)
        receiver = ci.open_receiver(conn, args.queue, 10)
        got = []
        for i in range(4):
            msg = ci.try_receive(receiver, args.op_timeout)
            ci.check(msg is not None, "timed out waiting for message %d of 4" % (i + 1))
            receiver.accept()
            got.append(msg)
        r1, r2, r3, r4 = got
        problems = []
        compare_maps("application-properties", props, r1.properties, problems)
        compare_maps("message-annotations", annotations, r1.annotations, problems)
        if type_signature(r1.body) != type_signature(dict_body):
            problems.append({"where": "body(dict amqp-value)", "sent": repr(type_signature(dict_body)),
                             "got": repr(type_signature(r1.body))})
        for f, v in PROPERTY_FIELDS.items():
            g = getattr(r1, f)
            if g != v or (f in ("id", "correlation_id") and type(g) is not type(v)):
                problems.append({"where": "properties." + f, "sent": repr(v), "got": repr(g)})
        if r1.inferred:
            problems.append({"where": "body section of msg 1", "problem": "inferred flag set (data section)"})
        if not (isinstance(r2.body, bytes) and r2.body == binary_body):
            problems.append({"where": "binary body", "problem": "differs", "got_type": type(r2.body).__name__,
                             "got_len": len(r2.body) if hasattr(r2.body, "__len__") else None})
        if not r2.inferred:
            problems.append({"where": "binary body", "problem": "came back as amqp-value, not a data section"})
        # Proton Python returns a ulong message-id as a plain int (its Message.id getter drops the
        # ulong wrapper even for a message it encoded itself), so only the value is comparable.
        for f, v in (("id", 2), ("correlation_id", b"corr-bin"), ("subject", "bin")):
            g = getattr(r2, f)
            if g != v or type(g) is not type(v):
                problems.append({"where": "msg2 properties." + f, "sent": repr(v), "got": repr(g)})
        if type_signature(r3.body) != type_signature(m3.body) or type(r3.id) is not uuid.UUID:
            problems.append({"where": "msg3 symbol body / uuid id", "got": repr((r3.body, r3.id))})
        if type_signature(r4.body) != type_signature(m4.body):
            problems.append({"where": "msg4 list body", "sent": repr(type_signature(m4.body)),
                             "got": repr(type_signature(r4.body))})
        ci.pump(conn, 0.1)
        ci.check(not problems, "%d type/value mismatches" % len(problems), problems=problems)
        return {"checked_values": len(values), "checked_property_fields": len(PROPERTY_FIELDS)}
    finally:
        ci.close_quietly(conn)


if __name__ == "__main__":
    p = ci.parser("types", __doc__)
    p.add_argument("--queue", default="interop.types")
    a = p.parse_args()
    ci.run(scenario, a)
