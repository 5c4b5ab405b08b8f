"""The desired IPVS table of an ``lvs`` configuration, as keepalived 2.2.7 builds it.

Owned here (pure functions, no I/O):

- :func:`services`: the IPVS services of one virtual server
  (keepalived/check/ipvswrapper.c ``ipvs_set_srule``, ``ipvs_cmd``,
  ``ipvs_group_cmd``, ``ipvs_group_range_cmd``): by address and port, by firewall
  mark (with its family), or a ``virtual_server_group`` expanded to one service
  per address of each range and one per fwmark entry.  keepalived's rules are
  applied again here, so a hand-built model gets them too: ``ops`` only for UDP
  or fwmark services, ``sh-*`` / ``mh-*`` flags only with that scheduler, a
  zero-port non-persistent service made persistent, a persistence granularity
  implying the 360 s timeout (a persistence engine does not: it is sent only
  with persistence), the netmask ``0xffffffff`` (IPv4) or prefix length 128
  (IPv6) unless a granularity is set, and group entries always /32 or /128
  (keepalived ignores ``persistence_granularity`` there).
- :func:`dest`: a real (or sorry) server as a destination of one service
  (``ipvs_set_drule``): a non-NAT server's port is the service's port (0 for a
  fwmark service), the weight clamped to 0..INT32_MAX (``real_weight``), the
  tunnel type, GUE port and checksum flags for TUN only.
- :func:`table`: the IPVS table from each virtual server's services and current
  destinations (what :class:`pykad.lb.pool.Pool` holds); services shared by
  several virtual servers (a group used by two of them) are merged, the first
  virtual server in config order winning, as keepalived's EEXIST-tolerant adds do.
- The names keepalived writes in logs and notify FIFO lines: :func:`inet_ntop`
  (glibc's, with its embedded-IPv4 forms), :func:`format_vs` (``FMT_VS``),
  :func:`format_rs` (``FMT_RS``) and :func:`vs_names` (a group member is named
  ``[GROUP]:N``, N its position among the group's virtual servers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv6Address

from pykad.config.addresses import IPAddress
from pykad.config.sections._lvs_model import (
    PERSISTENT_TIMEOUT_DEFAULT,
    WEIGHT_LIMIT,
    GroupRange,
    LvsConfig,
    Method,
    Protocol,
    RealServer,
    Scheduler,
    SorryServer,
    TunnelChecksum,
    TunnelType,
    VirtualServer,
    VirtualServerGroup,
)
from pykad.lb.table import (
    AF_INET,
    AF_INET6,
    FWD_DROUTE,
    FWD_MASQ,
    FWD_TUNNEL,
    IPPROTO_SCTP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    SVC_F_ONEPACKET,
    SVC_F_PERSISTENT,
    SVC_F_SCHED1,
    SVC_F_SCHED2,
    SVC_F_SCHED3,
    TUN_GRE,
    TUN_GUE,
    TUN_IPIP,
    Dest,
    DestKey,
    Service,
    ServiceKey,
    Table,
)

__all__ = [
    "IPV4_NETMASK",
    "IPV6_NETMASK",
    "dest",
    "expand_range",
    "format_rs",
    "format_vs",
    "inet_ntop",
    "real_weight",
    "services",
    "table",
    "vs_names",
]

IPV4_NETMASK = 0xFFFFFFFF
IPV6_NETMASK = 128

_PROTOCOLS = {
    Protocol.TCP: IPPROTO_TCP,
    Protocol.UDP: IPPROTO_UDP,
    Protocol.SCTP: IPPROTO_SCTP,
}
_FWD = {Method.NAT: FWD_MASQ, Method.DR: FWD_DROUTE, Method.TUN: FWD_TUNNEL}
_TUN = {TunnelType.IPIP: TUN_IPIP, TunnelType.GUE: TUN_GUE, TunnelType.GRE: TUN_GRE}
# IP_VS_TUNNEL_ENCAP_FLAG_*.
_CSUM = {TunnelChecksum.NOCSUM: 0, TunnelChecksum.CSUM: 1, TunnelChecksum.REMCSUM: 2}


def _af(version: int) -> int:
    return AF_INET6 if version == 6 else AF_INET


def real_weight(weight: int) -> int:
    """check_data.h ``real_weight``: an effective weight as IPVS takes it (0..INT32_MAX)."""
    return min(max(weight, 0), WEIGHT_LIMIT)


# --- names --------------------------------------------------------------------------


def inet_ntop(address: IPAddress) -> str:
    """glibc ``inet_ntop``: as Python's ``str``, but ``::a.b.c.d`` and ``::ffff:a.b.c.d``
    keep their dotted IPv4 tail (glibc ``inet_ntop6``)."""
    if isinstance(address, IPv4Address):
        return str(address)
    packed = address.packed
    words = [packed[i] << 8 | packed[i + 1] for i in range(0, 16, 2)]
    best_base, best_len, cur_base, cur_len = -1, 0, -1, 0
    for i, w in enumerate([*words, 1]):  # a sentinel closes a trailing run
        if w == 0 and i < 8:
            if cur_base == -1:
                cur_base, cur_len = i, 1
            else:
                cur_len += 1
        elif cur_base != -1:
            if best_base == -1 or cur_len > best_len:
                best_base, best_len = cur_base, cur_len
            cur_base = -1
    if best_len < 2:
        best_base = -1
    out = ""
    for i, w in enumerate(words):
        if best_base != -1 and best_base <= i < best_base + best_len:
            if i == best_base:
                out += ":"
            continue
        if i:
            out += ":"
        if i == 6 and best_base == 0 and (best_len == 6 or (best_len == 5 and words[5] == 0xFFFF)):
            return out + str(IPv4Address(packed[12:]))
        out += f"{w:x}"
    if best_base != -1 and best_base + best_len == 8:
        out += ":"
    return out


def _proto_name(protocol: Protocol | None) -> str:
    """lib/utils.c ``inet_sockaddrtotrio_r``'s protocol word."""
    return "none" if protocol is None else protocol.value.lower()


def format_vs(vs: VirtualServer, member: int = 0) -> str:
    """check_data.c ``format_vs``: ``[GROUP]:N``, ``FWM N`` or ``[ADDR]:proto:PORT``.

    ``member``: for a group's virtual server, its position among the virtual servers
    naming that group (ipwrapper.c ``link_vsg_to_vs`` stores it as the port).
    """
    if vs.group is not None:
        return f"[{vs.group}]:{member}"
    if vs.fwmark is not None:
        return f"FWM {vs.fwmark}"
    assert vs.address is not None
    return f"[{inet_ntop(vs.address)}]:{_proto_name(vs.protocol)}:{vs.port}"


def format_rs(vs: VirtualServer, server: RealServer | SorryServer) -> str:
    """check_data.c ``format_rs``: ``[ADDR]:proto:PORT``, the protocol the virtual server's."""
    return f"[{inet_ntop(server.address)}]:{_proto_name(vs.protocol)}:{server.port}"


def vs_names(config: LvsConfig) -> tuple[str, ...]:
    """``FMT_VS`` of each virtual server of ``config``, in order.

    A group member's number counts the group's virtual servers before it in the
    config.  (keepalived numbers them before dropping those without real servers;
    a dropped one is not in the model, so the numbers after it differ by one.)
    """
    seen: dict[str, int] = {}
    names = []
    for vs in config.virtual_servers:
        member = 0
        if vs.group is not None:
            member = seen.get(vs.group, 0)
            seen[vs.group] = member + 1
        names.append(format_vs(vs, member))
    return tuple(names)


# --- services -----------------------------------------------------------------------


def _by_address(vs: VirtualServer, group: VirtualServerGroup | None) -> bool:
    """check_data.c ``validate_check_config``: is the service specified by address."""
    return bool(group.ranges) if group is not None else vs.fwmark is None


def _flags(vs: VirtualServer, group: VirtualServerGroup | None) -> int:
    """check_parser.c ``lbflags_handler`` and the ops rule of ``validate_check_config``."""
    flags = 0
    if vs.ops and (vs.protocol in (Protocol.UDP, None) or not _by_address(vs, group)):
        flags |= SVC_F_ONEPACKET
    for on, bit in (
        (vs.flag_1, SVC_F_SCHED1),
        (vs.flag_2, SVC_F_SCHED2),
        (vs.flag_3, SVC_F_SCHED3),
    ):
        if on:
            flags |= bit
    # IP_VS_SVC_F_SCHED_{SH,MH}_FALLBACK = SCHED1, _PORT = SCHED2.
    if vs.scheduler is Scheduler.SH:
        flags |= (SVC_F_SCHED1 if vs.sh_fallback else 0) | (SVC_F_SCHED2 if vs.sh_port else 0)
    elif vs.scheduler is Scheduler.MH:
        flags |= (SVC_F_SCHED1 if vs.mh_fallback else 0) | (SVC_F_SCHED2 if vs.mh_port else 0)
    return flags


def _timeout(vs: VirtualServer, group: VirtualServerGroup | None) -> int:
    """The persistence timeout, with keepalived's implied ones."""
    if vs.persistence_timeout:
        return vs.persistence_timeout
    if vs.persistence_granularity is not None:
        return PERSISTENT_TIMEOUT_DEFAULT  # check_parser.c pgr_handler (pengine_handler: no)
    if group is None:
        zero_port = vs.fwmark is None and not vs.port
    else:
        zero_port = any(not r.port for r in group.ranges)
    return PERSISTENT_TIMEOUT_DEFAULT if zero_port else 0  # validate_check_config


def _base(vs: VirtualServer, group: VirtualServerGroup | None, key: ServiceKey) -> Service:
    """``ipvs_set_srule``: the service's value (the netmask per address family)."""
    timeout = _timeout(vs, group)
    flags = _flags(vs, group)
    netmask = IPV6_NETMASK if key.af == AF_INET6 else IPV4_NETMASK
    pe_name = ""
    if timeout:
        flags |= SVC_F_PERSISTENT
        pe_name = vs.persistence_engine or ""
        g = vs.persistence_granularity
        if g is not None and group is None:  # a group entry keeps /32 or /128
            netmask = int(g) if isinstance(g, IPv4Address) else g
    return Service(
        key=key,
        scheduler=vs.scheduler.value,
        flags=flags,
        timeout=timeout,
        netmask=netmask,
        pe_name=pe_name,
    )


def expand_range(entry: GroupRange) -> tuple[IPAddress, ...]:
    """The addresses of a group range, as ``ipvs_group_range_cmd`` walks them.

    From the start address, the last octet (IPv4) or last 16-bit group (IPv6) is
    incremented (wrapping, with no carry) until the address equals the end; IPv6
    compares only the last group.  An IPv4 range keepalived cannot finish (the end
    differs outside the last octet: it loops forever) is the 256 addresses it adds
    before repeating itself.
    """
    start = entry.start
    if isinstance(start, IPv4Address):
        base = int(start) & ~0xFF
        first, end = int(start) & 0xFF, int(entry.end)
        out4: list[IPAddress] = []
        for i in range(256):
            addr = base | ((first + i) & 0xFF)
            out4.append(IPv4Address(addr))
            if addr == end:
                break
        return tuple(out4)
    base6 = int(start) & ~0xFFFF
    first, last = int(start) & 0xFFFF, int(entry.end) & 0xFFFF
    count = ((last - first) & 0xFFFF) + 1
    return tuple(IPv6Address(base6 | ((first + i) & 0xFFFF)) for i in range(count))


def services(config: LvsConfig, vs: VirtualServer) -> tuple[Service, ...]:
    """The IPVS services of ``vs`` (a group's: its ranges' addresses, then its fwmarks)."""
    protocol = _PROTOCOLS.get(vs.protocol) if vs.protocol is not None else None
    if vs.group is None:
        if vs.fwmark is not None:
            key = ServiceKey.by_fwmark(_af(vs.family or 4), vs.fwmark)
        else:
            assert vs.address is not None
            af = _af(vs.address.version)
            key = ServiceKey(af, protocol or IPPROTO_UDP, vs.address.packed, vs.port)
        return (_base(vs, None, key),)
    group = config.group(vs.group)
    if group is None:
        return ()
    found: list[Service] = []
    for entry in group.ranges:
        for address in expand_range(entry):
            key = ServiceKey(
                _af(address.version), protocol or IPPROTO_UDP, address.packed, entry.port
            )
            found.append(_base(vs, group, key))
    for mark in group.fwmarks:
        # ipvs_group_cmd: the entry's family, else the virtual server's, else IPv4.
        family = mark.family or vs.family or 4
        found.append(_base(vs, group, ServiceKey.by_fwmark(_af(family), mark.fwmark)))
    return tuple(found)


# --- destinations -------------------------------------------------------------------


def dest(service: ServiceKey, server: RealServer | SorryServer, weight: int) -> Dest:
    """``ipvs_set_drule`` + ``ipvs_cmd``: ``server`` as a destination of ``service``.

    ``weight`` is the effective weight (clamped here); a sorry server has no
    thresholds.
    """
    fwd = server.forwarding
    method = _FWD[fwd.method]
    port = server.port if method == FWD_MASQ else service.port
    af = _af(server.address.version)
    tunnel = method == FWD_TUNNEL
    tun_type = _TUN[fwd.tunnel_type] if tunnel else TUN_IPIP
    return Dest(
        key=DestKey(server.address.packed, port, 0 if af == service.af else af),
        weight=real_weight(weight),
        fwd=method,
        u_threshold=server.uthreshold if isinstance(server, RealServer) else 0,
        l_threshold=server.lthreshold if isinstance(server, RealServer) else 0,
        tun_type=tun_type,
        tun_port=fwd.tunnel_port if tunnel and tun_type == TUN_GUE else 0,
        tun_flags=_CSUM[fwd.checksum] if tunnel and tun_type != TUN_IPIP else 0,
    )


def table(
    pools: Iterable[tuple[Sequence[Service], Iterable[tuple[RealServer | SorryServer, int]]]],
) -> Table:
    """The IPVS table: for each virtual server (config order), its services and the
    (server, effective weight) pairs currently in its pool.

    Where two virtual servers share a service, or a destination within one, the
    first one's value stands (keepalived's later add gets EEXIST, which it ignores).
    """
    found: dict[ServiceKey, Service] = {}
    dests: dict[ServiceKey, dict[DestKey, Dest]] = {}
    for svcs, servers in pools:
        servers = tuple(servers)
        for service in svcs:
            if service.key not in found:
                found[service.key] = service
                dests[service.key] = {}
            into = dests[service.key]
            for server, weight in servers:
                d = dest(service.key, server, weight)
                into.setdefault(d.key, d)
    return Table(found, dests)
