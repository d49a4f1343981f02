#!/usr/bin/env python3
"""Cross-checks the Blaze wire format with Python's stock protobuf package.

Usage: interop.py BLAZE_FDS CORPUS_HEX OUT_HEX

BLAZE_FDS is the schema's FileDescriptorSet (`cargo run -p blaze-wire-compat
--example dump_fds -- FILE`), so no protoc and no generated _pb2 module is
needed. Every corpus line is "name hex". Frames whose name is known here are
compared field by field with the same frame built in Python; every frame must
parse and re-serialize to exactly the bytes Rust wrote. Then Python writes
frames of its own to OUT_HEX for the Rust side to decode.
"""
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def load(fds_path):
    fds = descriptor_pb2.FileDescriptorSet.FromString(open(fds_path, "rb").read())
    pool = descriptor_pool.DescriptorPool()
    for f in fds.file:
        pool.Add(f)

    def cls(name):
        desc = pool.FindMessageTypeByName("blaze.v1." + name)
        if hasattr(message_factory, "GetMessageClass"):
            return message_factory.GetMessageClass(desc)
        return message_factory.MessageFactory(pool).GetPrototype(desc)

    return cls


def fnv1a(name):
    h = 0xCBF29CE484222325
    for b in name.encode():
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


SENDER = bytes(range(1, 17))


def put(msg, key, **kind):
    entry = msg.entries.add()
    entry.key = key
    field, value = next(iter(kind.items()))
    if field == "map_value":
        entry.value.map_value.CopyFrom(value)
    else:
        setattr(entry.value, field, value)


def known_frames(cls):
    Frame, BlazeMessage = cls("Frame"), cls("BlazeMessage")

    def header():
        f = Frame()
        f.version = 1
        f.group = fnv1a("chat")
        f.sender = SENDER
        return f

    out = {}
    f = header()
    d = f.data
    d.stream, d.topic, d.first_seq, d.qos, d.repair, d.window_start = 2, "prices", 7, 1, True, 3
    d.messages.add().payload = b"hello"
    m = d.messages.add()
    m.payload, m.fragment_index, m.fragment_count, m.topic = b"frag", 1, 3, "big"
    out["data"] = f

    f = header()
    f.nack.target, f.nack.stream, f.nack.loss_ppm = SENDER, 2, 50000
    r = f.nack.ranges.add()
    r.start, r.end = 10, 12
    r = f.nack.ranges.add()
    r.start, r.end = 20, 20
    out["nack"] = f

    f = header()
    s = f.heartbeat.streams.add()
    s.stream, s.high_seq, s.window_start = 2, 2**64 - 1, 1
    f.heartbeat.view_id, f.heartbeat.timestamp_us = 9, 123456
    out["heartbeat"] = f

    f = header()
    j = f.join
    j.group_name, j.member_name, j.weight, j.incarnation = "chat", "alice", 5, 1
    j.address, j.port, j.started_us = bytes([127, 0, 0, 1]), 7400, 42
    nested = BlazeMessage()
    put(nested, "depth", int_value=2)
    md = j.metadata
    put(md, "bool", bool_value=True)
    put(md, "byte", byte_value=-7)
    put(md, "char", char_value=0x263A)
    put(md, "short", short_value=-300)
    put(md, "int", int_value=-70000)
    put(md, "long", long_value=1 << 40)
    put(md, "float", float_value=1.5)
    put(md, "double", double_value=-2.25)
    put(md, "bytes", bytes_value=bytes([0, 255]))
    put(md, "text", text_value="grüße")
    put(md, "map", map_value=nested)
    out["join"] = f

    f = header()
    op = f.map_op
    op.map, op.kind, op.key, op.value = "config", 3, b"k", b"v"
    op.version, op.request_id, op.owner, op.fence = 4, 77, SENDER, 3
    out["map_op"] = f

    three = (3).to_bytes(16, "big")
    f = header()
    d = f.data
    d.first_seq, d.qos = 40, 4
    d.ring.rep, d.ring.seq = SENDER, 12
    for payload, topic in [(b"bid", "orders"), (b"ask", "quotes")]:
        m = d.messages.add()
        m.payload, m.topic = payload, topic
    out["totem_data"] = f

    f = header()
    d = f.data
    d.first_seq, d.qos = 1, 3
    d.ring.rep, d.ring.seq = SENDER, 12
    d.recovered_from.rep, d.recovered_from.seq = three, 8
    m = d.messages.add()
    m.payload, m.topic = b"old", "orders"
    m.recovered.sender, m.recovered.seq, m.recovered.safe = three, 77, True
    out["totem_recovery"] = f

    f = header()
    v = f.view
    v.members.add().id = SENDER
    v.members.add().id = three
    v.ring.rep, v.ring.seq = SENDER, 12
    s = v.ring_states.add()
    s.id, s.aru, s.high_delivered = SENDER, 70, 69
    s.old_ring.rep, s.old_ring.seq = three, 8
    v.commit_hop = 2
    out["commit"] = f

    f = header()
    v = f.view
    v.view_id = 5
    m = v.members.add()
    m.id, m.name, m.rank = SENDER, "alice", 1
    put(m.metadata, "role", text_value="db")
    v.left.append(three)
    out["view_left"] = f

    f = header()
    r = f.request
    r.target, r.queue, r.p2p_seq, r.one_way, r.queue_op, r.p2p_epoch = three, "jobs", 1, True, 5, 9
    out["queue_subscribe"] = f

    f = header()
    f.ack.target, f.ack.p2p_seq, f.ack.p2p_epoch = three, 1, 9
    out["p2p_ack"] = f
    return out


def python_frames(cls):
    Frame, BlazeMessage = cls("Frame"), cls("BlazeMessage")

    def header():
        f = Frame()
        f.version = 1
        f.group = fnv1a("python")
        f.sender = (0xAA).to_bytes(16, "big")
        return f

    out = []
    f = header()
    f.view.view_id, f.view.merge = 12, True
    for i, name in enumerate(["a", "b", "c"], start=1):
        m = f.view.members.add()
        m.id, m.name, m.rank = i.to_bytes(16, "big"), name, i
    f.view.merged_from.extend([4, 9])
    out.append(("view", f))

    f = header()
    r = f.request
    r.correlation, r.payload, r.queue, r.redelivered, r.timeout_us = 99, b"ping", "jobs", True, 5000
    out.append(("request", f))

    f = header()
    r = f.request
    r.correlation, r.payload, r.queue, r.one_way = 5, b"job", "jobs", True
    r.queue_op, r.p2p_seq, r.p2p_epoch = 2, 3, 1 << 40
    out.append(("queue_deliver", f))

    f = header()
    d = f.data
    d.qos, d.first_seq = 3, 1
    d.ring.rep, d.ring.seq = (0xAA).to_bytes(16, "big"), 4
    d.recovered_from.rep, d.recovered_from.seq = (0xAA).to_bytes(16, "big"), 3
    m = d.messages.add()
    m.payload, m.topic = b"x", "t"
    m.recovered.sender, m.recovered.seq, m.recovered.safe = (2).to_bytes(16, "big"), 6, True
    out.append(("totem_recovery", f))

    f = header()
    v = f.view
    v.commit_hop = 3
    v.left.append((7).to_bytes(16, "big"))
    m = v.members.add()
    m.id = (1).to_bytes(16, "big")
    put(m.metadata, "n", int_value=1)
    out.append(("commit_left", f))

    f = header()
    p = f.parity
    p.stream, p.block, p.k, p.m, p.index, p.symbol, p.block_crc = 1, 64, 16, 4, 17, bytes([1, 2, 3]), 0xDEADBEEF
    p.lengths.extend([100, 1024, 3])
    out.append(("parity", f))

    f = header()
    inner = BlazeMessage()
    put(inner, "raw", bytes_value=b"\x00\x01")
    md = f.join.metadata
    put(md, "name", text_value="py")
    put(md, "n", long_value=-5_000_000_000)
    put(md, "pi", double_value=3.5)
    put(md, "ok", bool_value=True)
    put(md, "s", short_value=-2)
    put(md, "inner", map_value=inner)
    out.append(("message", f))
    return out


def main():
    fds_path, corpus_path, out_path = sys.argv[1:4]
    cls = load(fds_path)
    Frame = cls("Frame")
    known = known_frames(cls)
    passed = failed = 0
    for line in open(corpus_path):
        name, hexed = line.split()
        raw = bytes.fromhex(hexed)
        try:
            frame = Frame.FromString(raw)
            again = frame.SerializeToString(deterministic=True)
            assert again == raw, f"re-serialized bytes differ:\n{again.hex()}\n{raw.hex()}"
            if name in known:
                assert frame == known[name], f"fields differ:\n{frame}\nexpected\n{known[name]}"
                assert known[name].SerializeToString(deterministic=True) == raw, "python encodes differently"
            passed += 1
        except Exception as e:  # report every failure, then fail
            failed += 1
            print(f"FAIL {name}: {e}")
    missing = set(known) - {l.split()[0] for l in open(corpus_path)}
    for name in sorted(missing):
        failed += 1
        print(f"FAIL {name}: missing from corpus")
    with open(out_path, "w") as out:
        for name, f in python_frames(cls):
            out.write(f"{name} {f.SerializeToString(deterministic=True).hex()}\n")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
