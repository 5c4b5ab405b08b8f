"""The IPVS generic-netlink codec: known bytes, both twins equal, dumps parsed back.

The kernel's side is tested in the VM (tests/vm/guest/test_ipvs_socket.py, with
ipvsadm reading what pykad wrote and the other way round); here the bytes are
checked against the layout in docs/reference/ipvs-netlink.md 1.10 and the
compiled twin against the pure one on random tables and random bytes.
"""

from __future__ import annotations

import socket
import struct
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pykad import _accel
from pykad.kernel import ipvs_wire
from pykad.kernel import ipvs_wire_py as wire_py
from pykad.lb import table as t
from pykad.lb.plan import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    EditDest,
    EditService,
    Op,
    reconcile,
)
from pykad.lb.table import Dest, DestKey, Service, ServiceKey, Table

try:
    from pykad._fastpath import ipvs_wire as wire_cy
except ImportError:  # pragma: no cover - a checkout that was not built
    wire_cy = None

TWINS = [pytest.param(wire_py, id="py"), pytest.param(wire_cy, id="cy")]
FAMILY = 0x24
V4, V6 = socket.AF_INET, socket.AF_INET6


@pytest.fixture(params=TWINS)
def codec(request: pytest.FixtureRequest) -> ModuleType:
    module: ModuleType | None = request.param
    assert module is not None, "the compiled codec is missing: pip install . builds it"
    return module


def test_installed_package_loads_the_compiled_twin() -> None:
    expected = "python" if _accel.extensions_disabled() else "cython"
    assert expected == ipvs_wire.IMPLEMENTATION
    assert wire_cy is not None and _accel.implementation(wire_cy) == "cython"


WEB = Service(key=ServiceKey(V4, 6, bytes([192, 168, 0, 10]), 80), scheduler="wlc")

# docs/reference/ipvs-netlink.md 1.10: NEW_SERVICE TCP 192.168.0.10:80 wlc, family 0x24, seq 1
# (flags there REQUEST|ACK as keepalived sends; pykad asks for one ACK per sendmsg: with_ack).
NEW_SERVICE_BYTES = bytes.fromhex(
    "68000000 2400 0100 01000000 00000000"  # nlmsghdr: len 104, REQUEST, seq 1
    "01 01 0000"  # genl: NEW_SERVICE, version 1
    "5400 0100"  # SERVICE nest, 84 bytes
    "0600 0100 0200 0000"  # AF 2
    "0600 0200 0600 0000"  # PROTOCOL 6
    "1400 0300 c0a8000a 000000000000000000000000"  # ADDR, 16 bytes
    "0600 0400 0050 0000"  # PORT 80, network order
    "0800 0600 776c6300"  # SCHED_NAME "wlc\0"
    "0c00 0700 00000000 ffffffff"  # FLAGS {0, mask ~0}
    "0800 0800 00000000"  # TIMEOUT 0
    "0800 0900 ffffffff"  # NETMASK 255.255.255.255
)


def test_new_service_bytes(codec: ModuleType) -> None:
    assert codec.encode_ops(FAMILY, [AddService(WEB)], 1) == [NEW_SERVICE_BYTES]


def test_new_dest_bytes_tunnel_and_byte_orders(codec: ModuleType) -> None:
    fwm6 = ServiceKey.by_fwmark(V6, 0x01020304)
    d = Dest(
        key=DestKey(bytes(range(16)), 0x1234),
        weight=7,
        fwd=t.FWD_TUNNEL,
        u_threshold=100,
        l_threshold=10,
        tun_type=t.TUN_GUE,
        tun_port=0x1770,
        tun_flags=1,
    )
    (msg,) = codec.encode_ops(FAMILY, [AddDest(fwm6, d)], 9)
    assert msg[16:20] == b"\x05\x01\x00\x00"  # NEW_DEST
    service = struct.pack("=HH", 20, 1) + bytes.fromhex("06000100 0a000000 08000500 04030201")
    dest = (
        bytes.fromhex("06000b00 0a000000")  # ADDR_FAMILY 10
        + struct.pack("=HH", 20, 1)
        + bytes(range(16))
        + bytes.fromhex("06000200 12340000")  # PORT network order
        + bytes.fromhex("08000300 02000000 08000400 07000000")  # TUNNEL, weight 7
        + bytes.fromhex("08000500 64000000 08000600 0a000000")  # thresholds
        + bytes.fromhex("05000d00 01000000 06000e00 17700000 06000f00 01000000")
    )
    assert msg[20:] == service + struct.pack("=HH", 4 + len(dest), 2) + dest
    assert struct.unpack_from("=IHHI", msg) == (len(msg), FAMILY, 1, 9)
    acked = wire_py.with_ack(msg)
    assert struct.unpack_from("=IHHI", acked) == (len(msg), FAMILY, 5, 9) and acked[8:] == msg[8:]


def test_ipv6_netmask_is_a_prefix_length_and_ipv4_a_mask(codec: ModuleType) -> None:
    v6 = Service(key=ServiceKey(V6, 6, bytes(16), 80), netmask=64)
    v4 = Service(key=ServiceKey(V4, 6, bytes(4), 80), netmask=0xFFFFFF00)
    m6, m4 = codec.encode_ops(FAMILY, [AddService(v6), EditService(v4)], 1)
    assert m6.endswith(bytes.fromhex("08000900 40000000"))
    assert m4.endswith(bytes.fromhex("08000900 ffffff00"))
    assert m4[16] == wire_py.CMD_SET_SERVICE


# ---------------------------------------------------------------- random tables

addresses4 = st.binary(min_size=4, max_size=4)
addresses6 = st.binary(min_size=16, max_size=16)
ports = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)


@st.composite
def service_keys(draw: st.DrawFn) -> ServiceKey:
    af = draw(st.sampled_from([V4, V6]))
    if draw(st.booleans()):
        return ServiceKey.by_fwmark(af, draw(u32))
    addr = draw(addresses4 if af == V4 else addresses6)
    return ServiceKey(af, draw(st.sampled_from([6, 17, 132])), addr, draw(ports))


@st.composite
def services(draw: st.DrawFn) -> Service:
    key = draw(service_keys())
    return Service(
        key=key,
        scheduler=draw(st.sampled_from(["rr", "wlc", "sh", "mh", "lblcr", "x" * 15])),
        flags=draw(u32) & ~t.SVC_F_HASHED,
        timeout=draw(u32),
        netmask=draw(st.integers(1, 128) if key.af == V6 else u32),
        pe_name=draw(st.sampled_from(["", "sip"])),
    )


@st.composite
def dests(draw: st.DrawFn, af: int) -> Dest:
    dest_af = draw(st.sampled_from([0, V4, V6]))
    addr = draw(addresses4 if (dest_af or af) == V4 else addresses6)
    fwd = draw(st.integers(0, 4))
    tunnel = fwd == t.FWD_TUNNEL
    return Dest(
        key=DestKey(addr, draw(ports), 0 if dest_af == af else dest_af),
        weight=draw(st.integers(0, 2**31 - 1)),
        fwd=fwd,
        u_threshold=draw(u32),
        l_threshold=draw(u32),
        tun_type=draw(st.integers(0, 2)) if tunnel else 0,
        tun_port=draw(ports) if tunnel else 0,
        tun_flags=draw(st.integers(0, 2)) if tunnel else 0,
    )


@st.composite
def tables(draw: st.DrawFn) -> Table:
    entries = []
    for service in draw(st.lists(services(), max_size=5, unique_by=lambda s: s.key)):
        ds = draw(st.lists(dests(service.key.af), max_size=4, unique_by=lambda d: d.key))
        entries.append((service, ds))
    return Table.of(entries)


def _ops(table: Table) -> list[Op]:
    ops: list[Op] = list(reconcile(Table(), table))
    for service, ds in table:
        ops.append(EditService(service))
        ops.append(DelService(service.key))
        for d in ds.values():
            ops += [EditDest(service.key, d), DelDest(service.key, d.key)]
    return ops


def _as_dump(messages: list[bytes]) -> bytes:
    """The requests as a dump would carry them: NLM_F_MULTI, then NLMSG_DONE."""
    out = []
    for m in messages:
        length, kind, _, seq, pid = struct.unpack_from("=IHHII", m)
        out.append(struct.pack("=IHHII", length, kind, wire_py.NLM_F_MULTI, seq, pid) + m[16:])
    out.append(struct.pack("=IHHIIi", 20, wire_py.NLMSG_DONE, wire_py.NLM_F_MULTI, 1, 0, 0))
    return b"".join(out)


@settings(max_examples=200, deadline=None)
@given(tables(), st.integers(0, 0xFFFFFFFF))
def test_twins_encode_the_same_bytes(table: Table, first_seq: int) -> None:
    assert wire_cy is not None
    ops = _ops(table)
    assert wire_cy.encode_ops(FAMILY, ops, first_seq) == wire_py.encode_ops(FAMILY, ops, first_seq)


@settings(max_examples=200, deadline=None)
@given(tables())
def test_dumps_parse_back_to_the_table(table: Table) -> None:
    """The kernel fills dumps with the attributes a NEW_* request carries."""
    assert wire_cy is not None
    for codec in (wire_py, wire_cy):
        svc_msgs = codec.encode_ops(FAMILY, [AddService(s) for s, _ in table], 1)
        assert codec.parse_services(_as_dump(svc_msgs)) == list(table.services.values())
        for service, ds in table:
            dest_msgs = codec.encode_ops(FAMILY, [AddDest(service.key, d) for d in ds.values()], 1)
            parsed = codec.parse_dests(_as_dump(dest_msgs), service.key.af)
            assert parsed == list(ds.values())


def test_hashed_flag_is_never_sent_and_dropped_from_dumps(codec: ModuleType) -> None:
    hashed = Service(key=WEB.key, flags=t.SVC_F_HASHED | t.SVC_F_PERSISTENT)
    (msg,) = codec.encode_ops(FAMILY, [AddService(hashed)], 1)
    assert bytes.fromhex("0c000700 01000000 ffffffff") in msg
    assert codec.parse_services(_as_dump([msg]))[0].flags == t.SVC_F_PERSISTENT


@settings(max_examples=300, deadline=None)
@given(tables(), st.data())
def test_twins_agree_on_damaged_dumps(table: Table, data: st.DataObject) -> None:
    """Truncated or overwritten bytes: both raise the same error, or both parse the same."""
    assert wire_cy is not None
    msgs = wire_py.encode_ops(FAMILY, [AddService(s) for s, _ in table], 1)
    msgs += wire_py.encode_ops(
        FAMILY, [AddDest(WEB.key, d) for ds in table.dests.values() for d in ds.values()], 1
    )
    buf = bytearray(_as_dump(msgs))
    for _ in range(data.draw(st.integers(0, 4))):
        if buf:
            buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.integers(0, 255))
    buf = buf[: data.draw(st.integers(0, len(buf)))]
    for parse in ("parse_services", "parse_dests"):
        args = (bytes(buf),) if parse == "parse_services" else (bytes(buf), V4)
        results = []
        for codec in (wire_py, wire_cy):
            try:
                results.append(getattr(codec, parse)(*args))
            except Exception as exc:
                results.append(type(exc))
        assert results[0] == results[1]


@pytest.mark.parametrize(
    "op",
    [
        AddService(Service(key=WEB.key, timeout=2**32)),
        AddService(Service(key=WEB.key, flags=-1)),
        AddService(Service(key=ServiceKey(V4, 6, b"\x01" * 4, 70000))),
        AddDest(WEB.key, Dest(key=DestKey(b"\x01" * 4, 80), weight=-1)),
        AddDest(WEB.key, Dest(key=DestKey(b"\x01" * 4, 80), fwd=t.FWD_TUNNEL, tun_type=256)),
        AddService(Service(key=WEB.key, scheduler=7)),  # type: ignore[arg-type]
    ],
)
def test_out_of_range_values_fail_alike(op: Op) -> None:
    assert wire_cy is not None
    errors = []
    for codec in (wire_py, wire_cy):
        with pytest.raises(Exception) as info:
            codec.encode_ops(FAMILY, [op], 1)
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1]
