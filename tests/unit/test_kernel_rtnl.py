"""rtnl: the rtnetlink bytes pykad sends and reads, checked against pyroute2's codec.

Owns: RTM_NEWADDR/RTM_DELADDR requests decode in pyroute2 to what the op says
(flags, attributes, sequence numbers), as keepalived's netlink_ipaddress() builds
them; dump replies encoded by pyroute2 parse back to the same AddressEntry
(Hypothesis round trips); NLMSG_ERROR parsing (acks, errors, capped echoes,
extended-ack text); AckTracker bookkeeping; route and rule requests decode.
"""

from __future__ import annotations

import ast
import errno
import struct
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv6Address,
    IPv6Interface,
    ip_address,
    ip_interface,
)
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyroute2.netlink.rtnl.fibmsg import fibmsg
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from pykad.config.iproute import IpAddress
from pykad.kernel import api, rtnl
from pykad.kernel.api import (
    IFA_F_HOMEADDRESS,
    IFA_F_MCAUTOJOIN,
    IFA_F_NODAD,
    IFA_F_NOPREFIXROUTE,
    IFA_F_SECONDARY,
    AddressOp,
    OpResult,
    RouteOp,
    RuleOp,
)

V4 = IPv4Interface("192.0.2.10/24")
V6 = IPv6Interface("2001:db8::10/64")


def decode(data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, {attr: value}) of one RTM_*ADDR message, as pyroute2 reads it."""
    msg = ifaddrmsg(data)
    msg.decode()
    attrs = dict(msg["attrs"])
    return msg, attrs


# --------------------------------------------------------------------------- requests


def test_ipv4_add_carries_what_keepalived_sends() -> None:
    op = AddressOp(
        add=True,
        ifindex=3,
        address=V4,
        broadcast=IPv4Address("192.0.2.255"),
        label="eth0:vip",
        scope=253,
    )
    msg, attrs = decode(rtnl.address_message(op, 77))
    assert msg["header"]["type"] == rtnl.RTM_NEWADDR
    assert msg["header"]["flags"] == 0x605  # REQUEST | ACK | EXCL | CREATE
    assert msg["header"]["sequence_number"] == 77
    assert (msg["family"], msg["prefixlen"], msg["index"], msg["scope"]) == (2, 24, 3, 253)
    assert attrs == {
        "IFA_LOCAL": "192.0.2.10",
        "IFA_BROADCAST": "192.0.2.255",
        "IFA_LABEL": "eth0:vip",
    }  # no IFA_FLAGS: IPv4 gets no IFA_F_NODAD


def test_ipv6_add_sets_nodad_and_deprecates_with_cacheinfo() -> None:
    op = AddressOp(add=True, ifindex=4, address=IPv6Interface("2001:db8::1/128"), preferred_lft=0)
    msg, attrs = decode(rtnl.address_message(op, 1))
    assert (msg["family"], msg["prefixlen"], msg["flags"]) == (10, 128, IFA_F_NODAD)
    assert attrs["IFA_LOCAL"] == "2001:db8::1"
    assert attrs["IFA_FLAGS"] == IFA_F_NODAD
    cache = dict(attrs["IFA_CACHEINFO"])
    assert (cache["ifa_preferred"], cache["ifa_valid"]) == (0, 0xFFFFFFFF)


def test_high_flags_go_in_ifa_flags_only() -> None:
    op = AddressOp(
        add=True, ifindex=4, address=V6, home=True, noprefixroute=True, autojoin=True, nodad=False
    )
    msg, attrs = decode(rtnl.address_message(op, 1))
    want = IFA_F_HOMEADDRESS | IFA_F_NOPREFIXROUTE | IFA_F_MCAUTOJOIN
    assert attrs["IFA_FLAGS"] == want
    assert msg["flags"] == want & 0xFF


def test_peer_is_ifa_address() -> None:
    op = AddressOp(
        add=True, ifindex=2, address=IPv4Interface("192.0.2.1/32"), peer=IPv4Address("192.0.2.2")
    )
    _, attrs = decode(rtnl.address_message(op, 1))
    assert (attrs["IFA_LOCAL"], attrs["IFA_ADDRESS"]) == ("192.0.2.1", "192.0.2.2")


def test_delete_names_the_prefix_and_sends_nothing_else() -> None:
    op = AddressOp(add=False, ifindex=3, address=V4, label="eth0:x", broadcast=IPv4Address(1))
    msg, attrs = decode(rtnl.address_message(op, 9))
    assert msg["header"]["type"] == rtnl.RTM_DELADDR
    assert msg["header"]["flags"] == 0x5  # REQUEST | ACK
    assert attrs == {"IFA_LOCAL": "192.0.2.10", "IFA_ADDRESS": "192.0.2.10"}
    _, attrs6 = decode(rtnl.address_message(AddressOp(add=False, ifindex=3, address=V6), 9))
    assert attrs6 == {"IFA_LOCAL": "2001:db8::10"}


def test_sequence_numbers_wrap() -> None:
    ops = [AddressOp(add=True, ifindex=1, address=V4)] * 3
    seqs = [
        decode(m)[0]["header"]["sequence_number"] for m in rtnl.address_messages(ops, 2**32 - 2)
    ]
    assert seqs == [2**32 - 2, 2**32 - 1, 0]


def test_from_config_maps_the_config_line() -> None:
    ip = IpAddress(address=IPv6Interface("2001:db8::5/128"), nodad=True, preferred_lft=0, home=True)
    op = AddressOp.from_config(ip, 7, add=True)
    assert (op.ifindex, op.nodad, op.preferred_lft, op.home) == (7, False, 0, True)
    assert op.flags == IFA_F_HOMEADDRESS  # "-nodad": DAD kept
    forever = IpAddress(address=V6, preferred_lft=0xFFFFFFFF)
    assert AddressOp.from_config(forever, 7, add=True).preferred_lft is None
    assert AddressOp.from_config(forever, 7, add=True).flags == IFA_F_NODAD


def test_dump_request() -> None:
    msg = ifaddrmsg(rtnl.dump_addresses_request(5, 10))
    msg.decode()
    assert msg["header"]["flags"] == 0x301
    assert (msg["header"]["type"], msg["family"]) == (rtnl.RTM_GETADDR, 10)


# --------------------------------------------------------------------------- Hypothesis

ipv4 = st.builds(IPv4Address, st.integers(0, 2**32 - 1))
ipv6 = st.builds(IPv6Address, st.integers(0, 2**128 - 1))
v4_ops = st.builds(
    AddressOp,
    add=st.booleans(),
    ifindex=st.integers(1, 2**31 - 1),
    address=st.builds(lambda a, p: ip_interface((a, p)), ipv4, st.integers(0, 32)),
    scope=st.sampled_from([0, 200, 253, 254]),
    broadcast=st.none() | ipv4,
    label=st.none() | st.text("abcdefghijklmnopqrstuvwxyz0123456789:", min_size=1, max_size=15),
    peer=st.none() | ipv4,
    home=st.booleans(),
    noprefixroute=st.booleans(),
    autojoin=st.booleans(),
)
v6_ops = st.builds(
    AddressOp,
    add=st.booleans(),
    ifindex=st.integers(1, 2**31 - 1),
    address=st.builds(lambda a, p: ip_interface((a, p)), ipv6, st.integers(0, 128)),
    peer=st.none() | ipv6,
    nodad=st.booleans(),
    mngtmpaddr=st.booleans(),
    preferred_lft=st.none() | st.integers(0, 2**32 - 2),
)


@given(st.one_of(v4_ops, v6_ops), st.integers(0, 2**32 - 1))
def test_pyroute2_decodes_every_request(op: AddressOp, seq: int) -> None:
    data = rtnl.address_message(op, seq)
    assert len(data) % 4 == 0
    msg, attrs = decode(data)
    assert msg["header"]["length"] == len(data)
    assert msg["header"]["sequence_number"] == seq
    assert msg["index"] == op.ifindex
    assert msg["prefixlen"] == op.address.network.prefixlen
    assert ip_address(attrs["IFA_LOCAL"]) == op.address.ip
    if op.add:
        assert attrs.get("IFA_FLAGS", 0) == op.flags
        assert attrs.get("IFA_LABEL") == op.label
        assert _ip(attrs.get("IFA_ADDRESS")) == op.peer
        if op.family == 4:
            assert _ip(attrs.get("IFA_BROADCAST")) == op.broadcast


def _ip(text: str | None) -> IPv4Address | IPv6Address | None:
    """pyroute2 prints with inet_ntop (``::0.1.0.0``); compare as addresses."""
    return ip_address(text) if text is not None else None


def _pyroute2_newaddr(op: AddressOp, flags: int, seq: int) -> bytes:
    """An RTM_NEWADDR dump part as the kernel would send it, encoded by pyroute2."""
    msg = ifaddrmsg()
    msg["header"]["type"] = rtnl.RTM_NEWADDR
    msg["header"]["flags"] = rtnl.NLM_F_MULTI
    msg["header"]["sequence_number"] = seq
    msg["family"] = 2 if op.family == 4 else 10
    msg["prefixlen"] = op.address.network.prefixlen
    msg["flags"] = flags & 0xFF
    msg["scope"] = op.scope
    msg["index"] = op.ifindex
    attrs: list[tuple[str, Any]] = [
        ("IFA_ADDRESS", str(op.peer or op.address.ip)),
        ("IFA_LOCAL", str(op.address.ip)),
        ("IFA_FLAGS", flags),
    ]
    if op.label:
        attrs.append(("IFA_LABEL", op.label))
    if op.broadcast:
        attrs.append(("IFA_BROADCAST", str(op.broadcast)))
    msg["attrs"] = attrs
    msg.encode()
    return bytes(msg.data)


def _done(seq: int) -> bytes:
    return struct.pack("=IHHIIi", 20, rtnl.NLMSG_DONE, rtnl.NLM_F_MULTI, seq, 0, 0)


@given(st.lists(v4_ops | v6_ops, max_size=20), st.integers(0, 0xFFF), st.integers(1, 2**31))
def test_dump_parts_round_trip(ops: list[AddressOp], flags: int, seq: int) -> None:
    buf = b"".join(_pyroute2_newaddr(op, flags, seq) for op in ops) + _done(seq)
    entries, done, err = rtnl.parse_address_dump(buf, seq)
    assert (done, err) == (True, 0)
    assert [e.key for e in entries] == [op.key for op in ops]
    for e, op in zip(entries, ops, strict=True):
        assert (e.flags, e.scope, e.label) == (flags, op.scope, op.label)
        assert e.peer == (op.peer if op.peer != op.address.ip else None)
        assert e.broadcast == (op.broadcast if op.family == 4 else None)
        assert e.secondary == bool(flags & IFA_F_SECONDARY)


def test_dump_of_another_seq_is_ignored_and_unfinished() -> None:
    op = AddressOp(add=True, ifindex=1, address=V4)
    assert rtnl.parse_address_dump(_pyroute2_newaddr(op, 0, 5), 6) == ([], False, 0)
    entries, done, _ = rtnl.parse_address_dump(_pyroute2_newaddr(op, 0, 5), 5)
    assert (len(entries), done) == (1, False)


# --------------------------------------------------------------------------- acks


def error_reply(seq: int, error: int, *, request: bytes = b"", tlv_text: str = "") -> bytes:
    """An NLMSG_ERROR as the kernel builds it (capped echo, optional NLMSGERR_ATTR_MSG)."""
    flags = rtnl.NLM_F_CAPPED
    echo = struct.pack("=IHHII", 16 + len(request), rtnl.RTM_NEWADDR, 0x605, seq, 0)
    body = struct.pack("=i", error) + echo
    if tlv_text:
        flags |= rtnl.NLM_F_ACK_TLVS
        text = tlv_text.encode() + b"\0"
        body += struct.pack("=HH", 4 + len(text), rtnl.NLMSGERR_ATTR_MSG) + text
        body += b"\0" * (-len(body) % 4)
    return struct.pack("=IHHII", 16 + len(body), rtnl.NLMSG_ERROR, flags, seq, 4242) + body


def test_acks_and_errors_parse_with_text() -> None:
    buf = (
        error_reply(1, 0)
        + error_reply(2, -errno.EEXIST, tlv_text="ipv4: Address already assigned")
        + error_reply(3, -errno.ENODEV, tlv_text="x")
    )
    assert rtnl.parse_acks(buf) == [
        rtnl.Ack(1, 0),
        rtnl.Ack(2, errno.EEXIST, "ipv4: Address already assigned"),
        rtnl.Ack(3, errno.ENODEV, "x"),
    ]


def test_uncapped_echo_is_skipped_before_the_tlvs() -> None:
    request = rtnl.address_message(AddressOp(add=True, ifindex=1, address=V4), 8)
    body = struct.pack("=i", -errno.EINVAL) + request
    text = b"bad\0"
    body += struct.pack("=HH", 4 + len(text), rtnl.NLMSGERR_ATTR_MSG) + text
    buf = struct.pack("=IHHII", 16 + len(body), rtnl.NLMSG_ERROR, rtnl.NLM_F_ACK_TLVS, 8, 0)
    assert rtnl.parse_acks(buf + body) == [rtnl.Ack(8, errno.EINVAL, "bad")]


def test_truncated_buffer_raises() -> None:
    with pytest.raises(rtnl.TruncatedMessage):
        rtnl.parse_acks(error_reply(1, 0)[:-4])


def test_ack_tracker_orders_answers_and_ignores_strangers() -> None:
    tracker = rtnl.AckTracker(2**32 - 1, 3)
    tracker.feed(error_reply(1, -errno.ENODEV) + error_reply(77, 0) + error_reply(2**32 - 1, 0))
    assert not tracker.done and tracker.pending == 1
    with pytest.raises(RuntimeError):
        tracker.results()
    tracker.fail_pending(errno.ETIMEDOUT, "lost")
    assert [(a.seq, a.errno) for a in tracker.results()] == [
        (2**32 - 1, 0),
        (0, errno.ETIMEDOUT),
        (1, errno.ENODEV),
    ]


def test_op_result_knows_already_so() -> None:
    add = AddressOp(add=True, ifindex=1, address=V4)
    delete = AddressOp(add=False, ifindex=1, address=V4)
    assert OpResult(add, errno.EEXIST).already
    assert not OpResult(add, errno.EEXIST).failed
    assert OpResult(delete, errno.EADDRNOTAVAIL).already
    assert OpResult(add, errno.EADDRNOTAVAIL).failed
    assert OpResult(add, errno.ENODEV).failed
    assert OpResult(add, 0).ok and str(OpResult(add, 0)) == "ok"
    assert str(OpResult(add, errno.ENODEV, "ipv4: Device not found")).startswith("ENODEV")


# --------------------------------------------------------------------------- routes, rules


def test_route_request_decodes() -> None:
    op = RouteOp(
        add=True,
        dst=IPv4Interface("198.51.100.0/24"),
        via=IPv4Address("192.0.2.1"),
        ifindex=3,
        table=1000,
        metric=10,
        mtu=1400,
    )
    msg = rtmsg(rtnl.route_message(op, 5))
    msg.decode()
    attrs = dict(msg["attrs"])
    assert (msg["family"], msg["dst_len"], msg["table"], msg["scope"], msg["type"]) == (
        2,
        24,
        0,
        0,
        1,
    )
    assert attrs["RTA_DST"] == "198.51.100.0"
    assert attrs["RTA_GATEWAY"] == "192.0.2.1"
    assert (attrs["RTA_OIF"], attrs["RTA_TABLE"], attrs["RTA_PRIORITY"]) == (3, 1000, 10)
    delete = rtmsg(rtnl.route_message(RouteOp(add=False, dst=op.dst, table=254), 6))
    delete.decode()
    assert (delete["scope"], delete["proto"], delete["table"]) == (255, 0, 254)


def test_rule_request_decodes() -> None:
    op = RuleOp(
        add=True, family=6, priority=100, src=IPv6Interface("2001:db8::/48"), table=7, fwmark=3
    )
    msg = fibmsg(rtnl.rule_message(op, 5))
    msg.decode()
    attrs = dict(msg["attrs"])
    assert (msg["family"], msg["src_len"], msg["action"]) == (10, 48, 1)
    assert attrs["FRA_SRC"] == "2001:db8::"
    assert (attrs["FRA_PRIORITY"], attrs["FRA_TABLE"], attrs["FRA_FWMARK"]) == (100, 7, 3)


@pytest.mark.parametrize("module", [rtnl, api])
def test_codec_and_api_do_no_io(module: ModuleType) -> None:
    """The sans-IO rule (tests/unit/test_sans_io.py) holds for rtnl and api too."""
    forbidden = {"trio", "socket", "time", "os", "select", "selectors", "subprocess", "asyncio"}
    tree = ast.parse(Path(str(module.__file__)).read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    assert not names & forbidden


def test_a_batch_sent_again_is_the_same_messages_with_new_sequence_numbers() -> None:
    """``NetlinkBatchWriter.send`` keeps a VIP set's messages encoded and only numbers
    them again (a takeover): the bytes are those ``address_messages`` makes."""
    from pykad.kernel import rtnl
    from pykad.kernel.netlink import NetlinkBatchWriter

    ops = [
        AddressOp(add=True, ifindex=2, address=ip_interface("192.0.2.10/24"), label="eth0:v"),
        AddressOp(add=True, ifindex=3, address=ip_interface("2001:db8::10/64")),
        AddressOp(add=True, ifindex=2, address=ip_interface("198.51.100.7/32")),
    ]
    sent: list[bytes] = []

    class Socket:  # what the writer sends, kept
        def send(self, data: bytes) -> None:
            sent.append(bytes(data))

        def close(self) -> None:
            pass

        def fileno(self) -> int:
            return 99

    with NetlinkBatchWriter() as writer:
        writer._sock.close()
        writer._sock = Socket()  # type: ignore[assignment]
        for first in (1, 0xFFFFFFFE, 7):
            writer._seq = first
            writer.send(ops)
            assert sent[-1] == b"".join(rtnl.address_messages(ops, first))
        # Made ready for someone else to send (a takeover burst): numbered, not sent.
        writer._seq = 40
        ready = writer.ready_to_send(ops)
        assert ready is not None and ready.fd == ready.fileno() == 99
        assert ready.message == b"".join(rtnl.address_messages(ops, 40))
        assert writer._seq == 40 + len(ops) and len(sent) == 3
