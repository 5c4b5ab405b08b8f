"""The VRRP service: every configured instance, on real sockets, with one timer loop.

Owns the wiring between the sans-IO ``VrrpRouter`` of each ``vrrp_instance``
and the host: one raw socket per interface and family (``drivers.vrrp_socket``),
read with a drain loop; one timerfd loop for all deadlines (``drivers.timer``);
virtual addresses applied as one netlink batch per change (``kernel``);
gratuitous ARP / NA frames (``vrrp.gratuitous``) sent on AF_PACKET sockets.
Effects are carried out in the order the router returns them: on becoming
master the advert goes first, then the VIPs, then the gratuitous ARPs, as
keepalived's ``vrrp_state_master_tx`` does. Steady-state adverts (a backup
hearing the same master, a master advertising) are left to ``fast_paths``.

Log lines use keepalived's words, so that operators' log searches keep working.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import logging
import math
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import trio

from pykad.bfd.events import BfdEvent
from pykad.config.addresses import IPAddress
from pykad.config.iproute import IpAddress
from pykad.config.model import Config
from pykad.config.sections._global_model import RxBufsPolicy
from pykad.config.sections._vrrp_model import MCAST_GROUP4, MCAST_GROUP6, VrrpInstance
from pykad.daemon import leave, takeover
from pykad.daemon.accept_mode import Firewall
from pykad.daemon.fast_paths import PUMP_KEY, WATCH_KEY, FastPaths
from pykad.daemon.garp_pacing import Pacing
from pykad.daemon.host_side import HostSide, Kernel, Ops
from pykad.daemon.leave import LeaveAdverts
from pykad.daemon.memory import freeze_long_lived
from pykad.daemon.sync_daemon import SyncDaemons
from pykad.daemon.takeover import Fired, Takeover
from pykad.daemon.tracking_sources import TrackingSources
from pykad.drivers import fast, mailer
from pykad.drivers.address_events import AddressDeletions
from pykad.drivers.bfd_pipe import BfdEventReader
from pykad.drivers.notify import Notifier
from pykad.drivers.packet import PacketSender
from pykad.drivers.timer import TimerLoop, now_us, wall_us
from pykad.drivers.vrrp_ah_socket import AhSocket
from pykad.drivers.vrrp_socket import VrrpSocket
from pykad.kernel.api import AddressOp, Links
from pykad.kernel.links import NetlinkLinks
from pykad.kernel.rtnl import LinkEvent
from pykad.kernel.vmac import Vmacs, vmac_address, vmac_name
from pykad.mail.smtp import Alerts
from pykad.vrrp import wire
from pykad.vrrp.advert import AUTH_AH, Advert, AdvertError
from pykad.vrrp.ah import AhCounter, AhError, ah_key, build_ah_packet, verify_ah
from pykad.vrrp.fsm import State
from pykad.vrrp.gratuitous import (
    GratuitousSchedule,
    GratuitousTiming,
    garp_frame,
    unsolicited_na_frame,
)
from pykad.vrrp.notify import Notification, NotifyPlanner, NotifyState
from pykad.vrrp.reload_plan import Change, HostDiff, InstancePlan, plan_reload
from pykad.vrrp.router import (
    PRIORITY_OWNER,
    ChangeVips,
    Effect,
    Log,
    LowerPriorityAdvert,
    PriorityChanged,
    RouterConfig,
    SendAdvert,
    SendGratuitous,
    StateChanged,
    VrrpRouter,
    WantMaster,
)
from pykad.vrrp.rx_buffers import Reader, configured_size, floor_size
from pykad.vrrp.sync_group import ForceState, GroupChanged, GroupState, SyncGroup, group_of
from pykad.vrrp.tracking import (
    Kind,
    ObjectId,
    Outcome,
    ScriptState,
    StatusUpdate,
    Tracker,
    TracksMade,
    config_tracks,
)
from pykad.vrrp.validate import ntoa

log = logging.getLogger("pykad.vrrp")

DEMOTED_PRIORITY = 1
"""A demoted instance's effective priority (``pykadctl demote``): the lowest a backup has."""
TAKEOVER_EARLY_US = 400
"""A BACKUP's Master_Down_Timer wakes the loop this much early and waits out the rest,
so that trio's wake-up latency (~0.1-0.4 ms here) does not delay a takeover."""


@dataclass(frozen=True, slots=True)
class Interface:
    """What the service needs to know about one interface."""

    name: str
    index: int
    mac: bytes
    ipv4: bytes | None
    ipv6_link_local: bytes | None
    up: bool = True


class InterfaceLookup:
    """Interfaces by name, from ``pykad.kernel.api.Links`` (set-up, and re-created ones)."""

    def __init__(self, links: Links | None = None) -> None:
        self._links = links

    def __call__(self, name: str) -> Interface:
        if self._links is None:
            self._links = NetlinkLinks()
        links = self._links
        index = links.ifindex(name)
        if index is None:
            raise LookupError(f"interface {name} does not exist")
        v4 = links.primary_ipv4(index)
        v6 = links.link_local_ipv6(index)
        return Interface(
            name=name,
            index=index,
            mac=links.mac(index) or bytes(6),
            ipv4=v4.packed if v4 is not None else None,
            ipv6_link_local=v6.packed if v6 is not None else None,
            up=links.is_up(index),
        )


@dataclass(eq=False)
class Instance:
    """One configured instance at run time: its router and where its packets go."""

    index: int
    conf: VrrpInstance
    interface: Interface
    socket: VrrpSocket
    """Where its adverts go out."""
    rx: VrrpSocket
    """Where its adverts come in (the VMAC's, or the interface's)."""
    router: VrrpRouter
    source: bytes
    destinations: tuple[bytes, ...]
    advert: Advert
    """The advert we send, with priority 0 (filled in per send)."""
    pseudo_destination: bytes | None
    """VRRPv3 checksum: the pseudo-header destination when it is not the real one."""
    vip_interfaces: tuple[int, ...]
    """The interface of each VIP and excluded VIP, in the config's order."""
    garp: GratuitousSchedule
    host_ops: dict[tuple[bool, tuple[int, ...]], Ops] = field(default_factory=dict)
    garp_frames: tuple[object, dict[int, list[bytes]]] = (None, {})
    ah: AhSocket | None = None
    """VRRPv2 ``auth_type AH``: adverts go in IPsec AH (IP protocol 51) on this socket."""
    ah_key: bytes = b""
    ah_counter: AhCounter = field(default_factory=AhCounter)
    ah_last_seq: int = 0
    ip_id: int = 0
    clock_floor: int = 0
    """When its timer last ran: a packet read later is handed over no earlier than this,
    though the kernel may have received it before (times given to a router never go back)."""
    adverts_sent: int = 0
    """Adverts sent from Python (the fast path's pump counts its own)."""
    priority_zero_sent: int = 0
    transitions: int = 0
    """State changes since start (INIT excluded)."""
    last_transition: float = 0.0
    """Wall-clock time of the last state change (0: none yet)."""
    takeover: Takeover | None = None
    """Its takeover's first packets, made while it waits as BACKUP (``daemon.takeover``)."""
    takeover_bursts: int = 0
    """Takeovers whose first packets went out as that prepared burst."""
    leave: LeaveAdverts | None = None
    """Its priority-0 adverts, made while it is MASTER (``daemon.leave``)."""
    _encoded: dict[tuple[int, bytes], bytes] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.conf.name

    @property
    def rx_fd(self) -> int:
        """The receive socket's fd when the fast path can filter it (IPv4), else -1."""
        return self.rx.fileno() if self.rx.family == 4 else -1

    def encoded(self, priority: int, dst: bytes) -> bytes:
        """The advert bytes for ``priority`` to ``dst`` (cached: priorities rarely change)."""
        key = (priority, dst)
        data = self._encoded.get(key)
        if data is None:
            if len(self._encoded) > 64:
                self._encoded.clear()
            data = wire.encode(
                self.advert._replace(priority=priority),
                self.conf.family,
                self.source,
                self.pseudo_destination or dst,
            )
            self._encoded[key] = data
        return data


def _holds(inst: Instance, ifindex: int, address: IPAddress) -> bool:
    """Whether MASTER ``inst`` has ``address`` on ``ifindex`` as a tracked VIP or eVIP."""
    if inst.router.state is not State.MASTER:
        return False
    conf = inst.conf
    addresses = conf.virtual_ipaddresses + conf.virtual_ipaddresses_excluded
    return any(
        where == ifindex and a.address.ip == address and not a.no_track
        for a, where in zip(addresses, inst.vip_interfaces, strict=True)
    )


def _interval_field(conf: VrrpInstance) -> int:
    """Adver Int (v2, seconds) or Max Adver Int (v3, centiseconds) as sent."""
    if int(conf.version) == 2:
        return max(1, conf.advert_int_us // 1_000_000)
    return max(1, conf.advert_int_us // 10_000)


class VrrpService:
    """Runs the VRRP instances of one configuration until ``stop`` is called."""

    def __init__(
        self,
        config: Config,
        kernel: Kernel,
        *,
        interfaces: Callable[[str], Interface] | None = None,
        release_vips: bool = True,
        log_addresses: bool = False,
        notifier: Notifier | None = None,
        bfd_events: int | None = None,
        sync_daemons: SyncDaemons | None = None,
    ) -> None:
        self.config = config
        self.log_addresses = log_addresses
        """``-a``: log every address change others make (and the host's at start)."""
        self._ifnames: dict[int, str] = {}
        """Interface names by index as last seen (a deleted one's addresses go first)."""
        self._links: set[int] = set()
        """The host's interfaces (indexes), for keepalived's "Interface X added" lines."""
        self._own_links: set[int] = set()
        """Those of them the service made (VMACs): not logged."""
        self.sync_daemons = sync_daemons
        self._syncd_send, self._syncd_receive = trio.open_memory_channel[bool](math.inf)
        self.bfd_events = BfdEventReader(bfd_events) if bfd_events is not None else None
        self._bfd_up: dict[str, bool] = {}
        self.host = HostSide(kernel, lambda name: self._interface(name).index)
        nft = config.global_defs.nftables
        self.firewall = Firewall(nft.table, nft.priority)
        self.lookup = interfaces or InterfaceLookup()
        self.release_vips = release_vips
        self.notifier = notifier
        self.planner = NotifyPlanner(
            config.vrrp.instances, config.vrrp.sync_groups, self._mail_alerts(config)
        )
        self.instances: list[Instance] = []
        self._by_index: dict[int, Instance] = {}
        """Instances by timer key (a reload keeps a kept instance's key, never reuses one)."""
        self._next_index = 0
        self.sockets: dict[tuple[int, int], VrrpSocket] = {}
        self._tx_sockets: dict[tuple[int, int], VrrpSocket] = {}
        self._ah_sockets: dict[int, AhSocket] = {}
        self._ah_by_vrid: dict[int, dict[int, Instance]] = {}
        self.vmacs: Vmacs | None = None
        self._nursery: trio.Nursery | None = None
        self.fast = FastPaths()
        self._by_vrid: dict[tuple[int, int], dict[int, Instance]] = {}
        self._senders: dict[int, PacketSender] = {}
        self._interfaces: dict[str, Interface] = {}
        self._vip_vmacs: dict[tuple[str, bytes], Interface] = {}
        """VMACs of VIPs on other interfaces, by base interface name and MAC."""
        self.timers: TimerLoop[int] = TimerLoop()
        self.pacing = Pacing(
            config.global_defs.garp,
            config.vrrp.garp_groups,
            self._interface_name,
        )
        self._tracks_made: TracksMade = {}
        self.tracks = config_tracks(config.vrrp, made=self._tracks_made)
        self.tracker = Tracker(self.tracks)
        self.groups = group_of(SyncGroup(g.name, g.members) for g in config.vrrp.sync_groups)
        self._by_name: dict[str, Instance] = {}
        self.sources: TrackingSources | None = None
        self._sources_scope: trio.CancelScope | None = None
        self._tracking_send: trio.MemorySendChannel[StatusUpdate] | None = None
        self._stop = trio.Event()
        self._left = False
        self._zero_sent: set[int] = set()
        """Instances whose priority-0 advert :meth:`advertise_leaving` sent."""
        self._leave_watch = fast.LeaveWatch(self._ready_leave)
        self._leave_ready: dict[int, Instance] = {}
        """The masters whose priority-0 adverts the stop signal's handler holds, in order."""
        self._leave_booked = False
        self.unknown_vrid = 0
        self.too_short = 0
        self.demoted: set[str] = set()
        """Instances demoted at run time (``pykadctl demote``) until promoted or reloaded."""

    def _mail_alerts(self, config: Config) -> Alerts | None:
        """What the planner needs for ``smtp_alert`` mails (None: none go); the mailer
        takes the configuration's settings too."""
        return mailer.configure(self.notifier.mailer if self.notifier else None, config.global_defs)

    # --- set-up -------------------------------------------------------------------

    def _interface(self, name: str) -> Interface:
        found = self._interfaces.get(name)
        if found is None:
            found = self._interfaces[name] = self.lookup(name)
        return found

    def _size_rx_buffers(self) -> None:
        """Each receive socket's buffer for the instances reading on it (``vrrp.rx_buffers``);
        the MTU (one ioctl a socket) and the adverts' lengths only when the policy uses them."""
        g = self.config.global_defs
        policy = g.vrrp_rx_bufs_policy
        by_socket: dict[tuple[int, int], list[Instance]] = {}
        for inst in self.instances:
            by_socket.setdefault((inst.rx.ifindex, inst.rx.family), []).append(inst)
        for (ifindex, family), insts in by_socket.items():
            sock = self.sockets[(ifindex, family)]
            mtu = self._mtu(sock) if policy is RxBufsPolicy.MTU else 0
            advert = policy is RxBufsPolicy.ADVERT
            readers = [
                Reader(
                    kernel_rx_buf_size=i.conf.kernel_rx_buf_size,
                    advert_len=self._advert_len(i) if advert else 0,
                    mtu=mtu,
                )
                for i in insts
            ]
            configured = configured_size(
                policy, g.vrrp_rx_bufs_size, g.vrrp_rx_bufs_multiplier, readers
            )
            try:
                sock.size_receive_buffer(configured, floor_size(len(readers)))
            except OSError as e:
                log.warning("cannot size the receive buffer of %s: %s", sock.ifname, e)

    @staticmethod
    def _advert_len(inst: Instance) -> int:
        """The instance's advert on the wire, IP header included."""
        payload = inst.encoded(inst.router.effective_priority, inst.destinations[0])
        return len(payload) + (20 if inst.rx.family == 4 else 40)

    @staticmethod
    def _mtu(sock: VrrpSocket) -> int:
        try:
            return sock.mtu()
        except OSError:
            return 1500

    def _interface_name(self, ifindex: int) -> str:
        return next((i.name for i in self._interfaces.values() if i.index == ifindex), "")

    def _socket(self, iface: Interface, family: int) -> VrrpSocket:
        key = (iface.index, family)
        sock = self.sockets.get(key)
        if sock is None:
            sock = self.sockets[key] = VrrpSocket(iface.name, iface.index, family)
            self._by_vrid[key] = {}
        return sock

    def _instance(self, index: int, conf: VrrpInstance) -> Instance:
        if conf.interface is None:
            raise LookupError(f"({conf.name}) has no interface")
        iface = self._interface(conf.interface)
        family = conf.family
        # With a VMAC, adverts come in on the VMAC (a private macvlan keeps frames sent
        # from its own MAC to itself) and go out from it, unless vmac_xmit_base.
        carrier = self._vmac(conf, iface) if conf.vmac is not None else iface
        sock = self._socket(carrier, family)
        tx = sock
        if carrier is not iface and conf.vmac_xmit_base:
            tx = self._send_socket(iface, family)
        if conf.source_address is not None:
            source = conf.source_address.packed
        else:
            own = iface.ipv4 if family == 4 else iface.ipv6_link_local
            if own is None:
                raise LookupError(
                    f"({conf.name}) interface {iface.name} has no IPv{family} address"
                )
            source = own
        if conf.unicast_peers:
            destinations = tuple(p.address.packed for p in conf.unicast_peers)
            if conf.unicast_ttl is not None:
                tx.set_ttl(conf.unicast_ttl)
        else:
            group = conf.mcast_dst_ip or ipaddress.ip_address(
                MCAST_GROUP4 if family == 4 else MCAST_GROUP6
            )
            destinations = (group.packed,)
        pseudo = None
        if conf.unicast_peers and conf.old_unicast_checksum is not None:
            pseudo = ipaddress.ip_address(MCAST_GROUP4 if family == 4 else MCAST_GROUP6).packed
        router_config = RouterConfig.from_instance(
            conf, source, check_unicast_src=self.config.global_defs.vrrp_check_unicast_src
        )
        if conf.name in self.groups:
            router_config = dataclasses.replace(router_config, sync_group=True)
        router = VrrpRouter(router_config)
        c = router.config
        advert = Advert(
            c.version, c.vrid, 0, _interval_field(conf), c.addresses, c.auth_type, c.auth_data
        )
        vip_interfaces = tuple(
            self._vip_interface(conf, a, iface, carrier).index
            for a in conf.virtual_ipaddresses + conf.virtual_ipaddresses_excluded
        )
        inst = Instance(
            index=index,
            conf=conf,
            interface=carrier,
            socket=tx,
            rx=sock,
            router=router,
            source=source,
            destinations=destinations,
            advert=advert,
            pseudo_destination=pseudo,
            vip_interfaces=vip_interfaces,
            garp=GratuitousSchedule(GratuitousTiming.from_instance(conf)),
        )
        vrids = self._by_vrid[(carrier.index, family)]
        if conf.vrid in vrids:
            raise ValueError(
                f"({conf.name}) VRID {conf.vrid} is already used by {vrids[conf.vrid].name}"
                f" on {iface.name}"
            )
        vrids[conf.vrid] = inst
        if router.config.auth_type == AUTH_AH:
            self._attach_ah(inst, carrier)
        return inst

    def _attach_ah(self, inst: Instance, carrier: Interface) -> None:
        """An AH instance: its own protocol-51 socket on the interface (keepalived's too)."""
        ah = self._ah_sockets.get(carrier.index)
        if ah is None:
            ah = self._ah_sockets[carrier.index] = AhSocket(carrier.name, carrier.index)
            self._ah_by_vrid[carrier.index] = {}
        self._ah_by_vrid[carrier.index][inst.conf.vrid] = inst
        inst.ah = ah
        inst.ah_key = ah_key(inst.conf.auth_pass or "")

    def _vmac_ifname(self, conf: VrrpInstance) -> str:
        assert conf.vmac is not None
        return conf.vmac.ifname or vmac_name(conf.vrid, self.config.global_defs.vmac_prefix)

    def _vmac(self, conf: VrrpInstance, base: Interface) -> Interface:
        """The instance's VMAC interface, created now (keepalived does at start-up)."""
        assert conf.vmac is not None
        if self.vmacs is None:
            self.vmacs = Vmacs()
        name = self._vmac_ifname(conf)
        mac = vmac_address(conf.vrid, conf.family, conf.vmac.mac)
        index = self.vmacs.ensure(name, base.index, base.name, mac, conf.family)
        if conf.family == 6 and base.ipv6_link_local is not None:
            # keepalived gives an IPv6 VMAC its base's link-local address (no DAD), so
            # that the adverts leave from the VMAC with that source, as keepalived's do
            ll = ipaddress.ip_interface((ipaddress.IPv6Address(base.ipv6_link_local), 64))
            op = AddressOp(add=True, ifindex=index, address=ll, scope=253)
            for result in self.host.kernel.apply([op]):
                if result.failed:
                    log.warning("(%s) cannot add %s to %s: %s", conf.name, ll, name, result)
        found = self._interfaces[name] = dataclasses.replace(base, name=name, index=index, mac=mac)
        return found

    def _vip_interface(
        self, conf: VrrpInstance, a: IpAddress, iface: Interface, carrier: Interface
    ) -> Interface:
        """Where a VIP goes, as keepalived 2.2.7 puts it: on the instance's own interface
        (no ``dev``, or that one) the carrier, its VMAC if it has one; on another ``dev``
        that interface, or a VMAC there of its own with ``use_vmac`` on the VIP or
        ``use_vmac_addr`` on the instance (which also gives one to an eVIP of the other
        family on the instance's interface)."""
        own = not a.dev or a.dev == iface.name
        other_family = a.address.ip.version != conf.family
        base = iface if own else self._interface(a.dev or iface.name)
        wants = a.use_vmac or (conf.use_vmac_addr and (not own or other_family))
        if wants and not (own and conf.vmac is not None and not other_family):
            return self._vip_vmac(conf, base, a.address.ip.version)
        return carrier if own else base

    def _vip_vmac(self, conf: VrrpInstance, base: Interface, family: int) -> Interface:
        """The VMAC on ``base`` for VIPs of ``family`` of VRID ``conf.vrid``, created now
        (one per base and MAC, shared).  keepalived names it PREFIX.VRID, or PREFIXn.VRID
        (n = 1, 2, ...) when an instance's VMAC or another has that name."""
        mac = vmac_address(conf.vrid, family)
        found = self._vip_vmacs.get((base.name, mac))
        if found is not None:
            return found
        if self.vmacs is None:
            self.vmacs = Vmacs()
        prefix = self.config.global_defs.vmac_prefix or "vrrp"
        taken = set(self.vmacs.created) | {
            self._vmac_ifname(c) for c in self.config.vrrp.instances if c.vmac is not None
        }
        name = vmac_name(conf.vrid, prefix)
        n = 0
        while name in taken:
            n += 1
            name = vmac_name(conf.vrid, f"{prefix}{n}")
        index = self.vmacs.ensure(name, base.index, base.name, mac, family)
        found = self._interfaces[name] = dataclasses.replace(base, name=name, index=index, mac=mac)
        self._vip_vmacs[(base.name, mac)] = found
        return found

    def _send_socket(self, iface: Interface, family: int) -> VrrpSocket:
        key = (iface.index, family)
        sock = self._tx_sockets.get(key)
        if sock is None:
            sock = VrrpSocket(iface.name, iface.index, family, send_only=True)
            self._tx_sockets[key] = sock
        return sock

    def setup(self) -> None:
        """Look up interfaces, open sockets, build the routers (no packet sent yet)."""
        for conf in self.config.vrrp.instances:
            self._add_instance(conf)
        for inst in self.instances:  # ready before the first takeover, not made during it
            self._prepare(inst)
        self._size_rx_buffers()
        self._links = {index for index, _ in socket.if_nameindex()}
        self._own_links = {i.interface.index for i in self.instances if i.conf.vmac is not None}
        self._own_links |= {vmac.index for vmac in self._vip_vmacs.values()}
        self.sources = TrackingSources(
            self.config, self.tracks, self._link_up, on_link_event=self._link_event
        )
        for update in self.sources.initial():
            self.tracker.update(update.obj, update.status)

    def _add_instance(self, conf: VrrpInstance, index: int | None = None) -> Instance:
        if index is None:
            index, self._next_index = self._next_index, self._next_index + 1
        inst = self._instance(index, conf)
        self.instances.append(inst)
        self._by_name[inst.name] = inst
        self._by_index[index] = inst
        return inst

    def _prepare(self, inst: Instance) -> None:
        """Senders, frames, kernel operations and adverts made before they are needed."""
        for ifindex in set(inst.vip_interfaces):
            self._sender(ifindex)
        self._garp_frames(inst)
        for add in (True, False):
            self.host.prepare(self._host_ops(inst, add))
        for dst in inst.destinations:  # its adverts, and the priority-0 one of a stop
            inst.encoded(inst.router.effective_priority, dst)
            inst.encoded(0, dst)

    def _link_up(self, name: str) -> bool:
        try:
            return self._interface(name).up
        except LookupError:
            return False

    # --- interfaces that go away and come back --------------------------------------

    def _link_event(self, event: LinkEvent) -> None:
        """keepalived's line for an interface that comes or goes; and an interface we use
        that was re-created (a new ifindex): move onto it (keepalived does)."""
        if event.deleted and event.ifindex in self._links:
            self._links.discard(event.ifindex)
            if event.ifindex not in self._own_links:
                log.info("Interface %s deleted", event.name)
        elif not event.deleted and event.ifindex not in self._links:
            self._links.add(event.ifindex)
            made = (*self._interfaces.values(), *self._vip_vmacs.values())
            if any(i.index == event.ifindex for i in made):
                self._own_links.add(event.ifindex)  # a VMAC of ours: keepalived says nothing
            else:
                log.info("Interface %s added", event.name)
        old = self._interfaces.get(event.name)
        if event.deleted or old is None or old.index == event.ifindex:
            return
        try:
            new = self.lookup(event.name)
        except LookupError:
            return
        self._replace_interface(old, dataclasses.replace(new, ipv4=new.ipv4 or old.ipv4))
        for inst in self.instances:  # their VMACs went with the old base: make them again
            if inst.conf.vmac is not None and inst.conf.interface == event.name:
                self._replace_interface(inst.interface, self._vmac(inst.conf, new))
        for (base, mac), vmac in list(self._vip_vmacs.items()):
            if base == event.name and self.vmacs is not None:
                family = 4 if mac[4] == 1 else 6
                index = self.vmacs.ensure(vmac.name, new.index, new.name, mac, family)
                fresh = dataclasses.replace(new, name=vmac.name, index=index, mac=mac)
                self._vip_vmacs[(base, mac)] = fresh
                self._replace_interface(vmac, fresh)

    def _replace_interface(self, old: Interface, new: Interface) -> None:
        self._leave_watch.mark()
        for inst in self.instances:  # the fast paths hold the old sockets' fds
            self.fast.reclaim(inst)
        self._interfaces[new.name] = new
        sender = self._senders.pop(old.index, None)
        if sender is not None:
            sender.close()
        moved: dict[int, VrrpSocket] = {}
        for table, reader in ((self.sockets, True), (self._tx_sockets, False)):
            for family in (4, 6):
                sock = table.pop((old.index, family), None)
                if sock is None:
                    continue
                trio.lowlevel.notify_closing(sock.sock)
                sock.close()
                fresh = VrrpSocket(new.name, new.index, family, send_only=not reader)
                table[(new.index, family)] = moved[id(sock)] = fresh
                if reader:
                    self._by_vrid[(new.index, family)] = self._by_vrid.pop((old.index, family))
                    if self._nursery is not None:
                        self._nursery.start_soon(self._reader, fresh)
        for inst in self.instances:
            if inst.interface.index == old.index:
                inst.interface = new
            inst.socket = moved.get(id(inst.socket), inst.socket)
            inst.rx = moved.get(id(inst.rx), inst.rx)
            inst.vip_interfaces = tuple(
                new.index if i == old.index else i for i in inst.vip_interfaces
            )
        now = now_us()
        for inst in self.instances:  # their timers back from the fast paths, on the new fds
            self._apply(inst, [], now)

    # --- running ------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        if not self.instances:
            self.setup()
        try:
            async with trio.open_nursery() as outer:
                if self.notifier is not None:
                    await outer.start(self.notifier.run)
                await self._run_routers(task_status)
                if self.notifier is not None:
                    priorities = {i.name: i.router.effective_priority for i in self.instances}
                    self.notifier.submit(self.planner.shutdown(priorities))
                    self.notifier.close()  # outer waits for the STOP scripts
        finally:
            for sock in (*self.sockets.values(), *self._tx_sockets.values()):
                sock.close()
            for ah in self._ah_sockets.values():
                ah.close()
            for sender in self._senders.values():
                sender.close()
            if self.vmacs is not None:
                self.vmacs.close(remove=self.release_vips)
            self.firewall.close()

    async def _run_routers(self, task_status: trio.TaskStatus[None]) -> None:
        watch = cast(trio.abc.Instrument, self._leave_watch)  # duck-typed, may be compiled
        trio.lowlevel.add_instrument(watch)
        try:
            await self._run_nursery(task_status)
        finally:
            trio.lowlevel.remove_instrument(watch)
            fast.leave_set([])

    async def _run_nursery(self, task_status: trio.TaskStatus[None]) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self.timers.run, self._fire)
            for sock in self.sockets.values():
                nursery.start_soon(self._reader, sock)
            for index, ah in self._ah_sockets.items():
                nursery.start_soon(self._ah_reader, index, ah)
            self._change_static(add=True)
            for inst in self.instances:
                self._remove_stale_vips(inst)
            freeze_long_lived(collect=False)  # no full pass: it would delay the start
            now = now_us()
            self._apply_outcomes(self.tracker.outcomes(), now)
            self._notify_groups_at_start()
            for inst in self.instances:
                self._apply(inst, inst.router.start(now), now)
            if self.bfd_events is not None:
                nursery.start_soon(self.bfd_events.run, self._bfd_event)
            port = getattr(self.host.kernel, "port_id", None)  # a real netlink socket's
            deletions = AddressDeletions(
                self._address_deleted,
                () if port is None else (port,),
                self._address_changed if self.log_addresses else None,
            )
            nursery.start_soon(deletions.run)
            if self.sync_daemons is not None:
                nursery.start_soon(self._run_sync_daemons, self.sync_daemons)
            send, receive = trio.open_memory_channel[StatusUpdate](1024)
            self._tracking_send = send
            nursery.start_soon(self._tracking, receive)
            if self.sources is not None:
                self._start_sources(self.sources)
            task_status.started()
            await self._stop.wait()
            self._leave()
            nursery.cancel_scope.cancel()

    def _start_sources(self, sources: TrackingSources) -> None:
        """Run ``sources`` in their own cancel scope (a reload may replace them)."""
        assert self._nursery is not None and self._tracking_send is not None
        scope = self._sources_scope = trio.CancelScope()
        send = self._tracking_send.clone()

        async def run() -> None:
            with scope:
                await sources.run(send)

        self._nursery.start_soon(run)

    async def _run_sync_daemons(self, daemons: SyncDaemons) -> None:
        """Swaps the IPVS sync daemons after the state changes that call for it, in
        order, off the takeover path (a transition only queues the new state)."""
        try:
            async for master in self._syncd_receive:
                daemons.become(master)
        finally:
            daemons.stop()

    def stop(self) -> None:
        """Leave: priority 0 from masters, VIPs removed (unless told to keep them).

        Called from the task that got SIGTERM, it leaves at once (no wait for the
        routers' task to be scheduled): a backup's skew time starts sooner.
        """
        self._stop.set()
        self._leave_watch.mark()
        if self._nursery is not None:
            self._leave()

    def advertise_leaving(self) -> None:
        """A stop's first act, before :meth:`stop`: every master's priority-0 advert
        now (RFC 5798 6.4.3), so that its backups' skew time starts at once.  The
        VRRP process calls it from its SIGTERM handler while the loop waits for
        events (nothing is half done then); :meth:`stop` does the rest. Those the
        compiled handler sent already (``daemon.leave``) are only counted."""
        if self._left or self._nursery is None:
            return
        sent = self._book_leave()
        for inst in self.instances:
            if inst.router.state is State.MASTER and inst.index not in self._zero_sent:
                self.fast.reclaim(inst)  # neither the pump nor a timer sends after it
                self.timers.schedule(inst.index, None)
                if inst.index not in sent:
                    self._send_advert(inst, 0)
                self._zero_sent.add(inst.index)

    def _ready_leave(self) -> None:
        """The masters' priority-0 adverts, handed to the stop signal's handler (the
        LeaveWatch calls it before the loop waits, after a change marked them stale)."""
        ready: dict[int, Instance] = {}
        if not self._stop.is_set():
            for inst in self.instances:
                r = inst.router
                if r.state is not State.MASTER or inst.ah is not None:
                    inst.leave = None
                    continue
                if inst.leave is None or not inst.leave.valid(inst):
                    inst.leave = leave.make(inst)
                ready[inst.index] = inst
        fast.leave_set([inst.leave.burst for inst in ready.values() if inst.leave is not None])
        self._leave_ready = ready

    def _book_leave(self) -> dict[int, Instance]:
        """The instances whose priority-0 adverts the stop signal's handler sent, counted
        once (empty if it sent none)."""
        results = fast.leave_results()
        if results is None or self._leave_booked:
            return {}
        self._leave_booked = True
        log.debug("the stop signal's handler sent %d priority-0 adverts", len(results))
        at = 0
        for inst in self._leave_ready.values():
            assert inst.leave is not None
            n = inst.leave.adverts
            self._count_advert(inst, results[at : at + n], 0)
            at += n
        return self._leave_ready

    def _leave(self) -> None:
        if self._left:
            return
        self._left = True
        # Those the stop signal's handler sent (while the loop was busy: advertise_leaving
        # did not run) are not sent again: a second one would restart the backups'
        # skew time.  A master not in _zero_sent sends priority 0 below.
        self._zero_sent.update(self._book_leave())
        now = now_us()
        for inst in self.instances:
            self.fast.reclaim(inst)
            effects = inst.router.shutdown(now)
            if inst.index in self._zero_sent:
                effects = [e for e in effects if not isinstance(e, SendAdvert)]
            self._apply(inst, effects, now)
        if self.release_vips:
            self._change_static(add=False)

    async def _reader(self, sock: VrrpSocket) -> None:
        fd = sock.fileno()
        rx_filter = self.fast.filter_for(fd) if sock.family == 4 else None
        while True:
            try:
                await trio.lowlevel.wait_readable(fd)
            except trio.ClosedResourceError:
                return  # its interface went away and came back: a new socket reads now
            self._read(sock, rx_filter)

    def _read(self, sock: VrrpSocket, rx_filter: fast.RxFilter | None) -> None:
        """What ``sock`` holds. Adverts that only refresh a backup's timer stay in C; each
        packet comes with its kernel receive time, on the cores' clock."""
        now, wall = now_us(), wall_us()
        if rx_filter is not None:
            packets = rx_filter.drain(sock.fileno(), now, wall)
        else:
            packets = sock.drain(now, wall)
        for payload, src, dst, ttl, arrival in packets:
            self._receive(sock, payload, src, dst, ttl, arrival)

    async def _ah_reader(self, index: int, ah: AhSocket) -> None:
        while True:
            try:
                await trio.lowlevel.wait_readable(ah.fileno())
            except trio.ClosedResourceError:
                return  # its VMAC went with the instance (a reload)
            packets = ah.drain()
            now = now_us()
            for packet in packets:
                self._receive_ah(index, packet, now)

    def _receive_ah(self, index: int, packet: bytes, now: int) -> None:
        """An IPsec-AH packet: checked as keepalived's ``vrrp_in_chk_ipsecah``, then delivered."""
        ihl = (packet[0] & 0x0F) * 4 if packet else 0
        if len(packet) < ihl + 26:
            self.too_short += 1
            return
        inst = self._ah_by_vrid[index].get(packet[ihl + 25])
        if inst is None:
            self.unknown_vrid += 1
            return
        try:
            payload, seq = verify_ah(
                packet, inst.ah_key, inst.ah_counter.seq, unicast=bool(inst.conf.unicast_peers)
            )
        except AhError as e:
            inst.router.count_malformed()
            text = e.log_text(inst.name)
            if text:
                log.info("%s", text)
            return
        inst.ah_counter.received(seq, backup=inst.router.state is State.BACKUP)
        inst.ah_last_seq = seq
        self._deliver(inst, 4, payload, packet[12:16], packet[16:20], packet[8], now)

    def _receive(
        self, sock: VrrpSocket, payload: bytes, src: bytes, dst: bytes, ttl: int, now: int
    ) -> None:
        if len(payload) < 2:
            self.too_short += 1
            return
        inst = self._by_vrid[(sock.ifindex, sock.family)].get(payload[1])
        if inst is None:
            self.unknown_vrid += 1
            if self.config.global_defs.log_unknown_vrids:
                log.info(
                    "Unknown VRID(%d) received on interface(%s). ignoring...",
                    payload[1],
                    sock.ifname,
                )
            return
        self._deliver(inst, sock.family, payload, src, dst, ttl, now)

    def _deliver(
        self,
        inst: Instance,
        family: int,
        payload: bytes,
        src: bytes,
        dst: bytes,
        ttl: int,
        now: int,
    ) -> None:
        try:
            advert = wire.decode_untrusted(
                payload,
                family,
                src,
                inst.pseudo_destination or dst,
                inst.router.config.version == 3 and bool(dst),
            )
        except AdvertError as e:
            inst.router.count_malformed()
            log.info("(%s) dropped a malformed advert from %s: %s", inst.name, ntoa(src), e)
            return
        multicast = (dst[0] >= 224 if family == 4 else dst[0] == 255) if dst else None
        now = max(now, inst.clock_floor)  # an advert is not older than a timer already run
        self.fast.reclaim(inst)
        effects = inst.router.receive_advert(
            advert, src, now, ttl=None if ttl < 0 else ttl, multicast=multicast
        )
        if not effects and family == 4 and inst.ah is None:
            self.fast.arm_backup(inst, payload, src, dst, now)
        self._apply(inst, effects, now)

    async def _tracking(self, receive: trio.MemoryReceiveChannel[StatusUpdate]) -> None:
        async for update in receive:
            if update.obj.kind is Kind.SCRIPT:
                verdict = "succeeded" if update.status is ScriptState.GOOD else "failed"
                log.info("VRRP_Script(%s) %s", update.obj.name, verdict)
            elif update.obj.kind is Kind.INTERFACE:
                log.info(
                    "Netlink reports %s %s", update.obj.name, "up" if update.status else "down"
                )
            self._apply_outcomes(self.tracker.update(update.obj, update.status), now_us())

    def _bfd_event(self, event: BfdEvent, now: int) -> None:
        """A BFD session came up or went down (keepalived ``vrrp_handle_bfd_event``)."""
        name, up = event.name, event.up
        state = "Up" if up else "Down"
        delay = now - event.sent_us
        log.debug(
            "Received BFD event: instance %s is in state %s (delivered in %d usec)",
            name,
            state,
            delay,
        )
        if self._bfd_up.get(name, False) == up:
            return  # keepalived starts every BFD down and ignores repeats
        self._bfd_up[name] = up
        bfd = self.config.bfd.by_name(name)
        if not up and bfd is not None:
            address = bfd.neighbor.packed
            for inst in self.instances:
                if inst.conf.bfd_takeover:
                    self.fast.reclaim(inst)
                    effects = inst.router.master_gone(address, now)
                    if effects:
                        log.info(
                            "(%s) BFD session %s to the master is down: taking over",
                            inst.name,
                            name,
                        )
                    self._apply(inst, effects, now)
        obj = ObjectId(Kind.BFD, name)
        for tracks in self.tracks:
            if any(t.obj == obj for t in tracks.tracks):
                log.info(
                    "VRRP_Instance(%s) Tracked BFD instance %s is %s",
                    tracks.name,
                    name,
                    state.upper(),
                )
        self._apply_outcomes(self.tracker.update(obj, up), now)

    def _address_changed(self, ifindex: int, address: IPAddress, added: bool) -> None:
        """keepalived's ``-a`` line for an address change (``netlink_if_address_filter``)."""
        try:
            self._ifnames[ifindex] = name = socket.if_indextoname(ifindex)
        except OSError:  # gone: its addresses are reported before the link
            name = self._ifnames.get(ifindex, str(ifindex))
        where = "added to" if added else "removed from"
        log.info("Netlink reflector reports IP %s %s %s", address, where, name)

    def _address_deleted(self, ifindex: int, address: IPAddress) -> None:
        """Someone deleted ``address`` from interface ``ifindex``: if it is a VIP or eVIP
        a MASTER holds there (not ``no_track``), that master leaves with a priority-0
        advert and its VIPs, with the masters of its sync group, and each takes over
        again after its skew time (keepalived's ``address_is_ours`` and
        ``set_vrrp_backup``).  A deletion on an interface that is down or gone is the
        link's doing: tracking decides."""
        inst = next((i for i in self.instances if _holds(i, ifindex, address)), None)
        if inst is None:
            return
        name = next((i.name for i in self._interfaces.values() if i.index == ifindex), "")
        try:
            if not self.lookup(name).up:
                return
        except LookupError:
            return
        if not self.log_addresses:  # else logged already
            log.info("Netlink reflector reports IP %s removed from %s", address, name)
        group = self.groups.get(inst.name)
        members = [inst] if group is None else [self._by_name[m] for m in group.members]
        leaving = [m for m in members if m.router.state is State.MASTER]
        now = now_us()
        for member in leaving:
            self.fast.reclaim(member)
        for member, effects in [(m, m.router.vip_deleted(now)) for m in leaving]:
            self._apply(member, effects, now)

    def _apply_outcomes(self, changed: Sequence[Outcome], now: int) -> None:
        """Tell the routers what tracking now says (sync groups fault together)."""
        outcomes = {o.instance: o for o in changed}
        for group in {self.groups[n] for n in outcomes if n in self.groups}:
            members = {m: self.tracker.outcome(m) for m in group.members if m in self._by_name}
            outcomes.update(group.tracking(members))
        for name, o in outcomes.items():
            inst = self._by_name.get(name)
            if inst is None:
                continue
            fault = o.fault or o.waiting
            priority = DEMOTED_PRIORITY if name in self.demoted else o.effective_priority
            self.fast.reclaim(inst)
            effects = inst.router.set_tracking(fault=fault, priority=priority, now=now)
            self._apply(inst, effects, now)

    def _fire(self, key: int, now: int) -> None:
        if key == PUMP_KEY:
            nxt = self.fast.pump.send_due(now)
            self.timers.schedule(PUMP_KEY, nxt if nxt >= 0 else None)
            return
        if key == WATCH_KEY:
            self._watch(now)
            return
        if self.pacing.is_key(key):
            ifindex, frames = self.pacing.due(key, now)
            sender = self._sender(ifindex)
            if frames and sender is not None:
                sender.send(frames)
            self.timers.schedule(key, self.pacing.next_deadline(key))
            return
        inst = self._by_index.get(key)
        if inst is None:
            return  # a timer of an instance a reload removed
        self.fast.refresh(inst)  # adverts the filter absorbed moved the deadline on
        due = inst.router.next_deadline()
        if due is not None and due <= now + TAKEOVER_EARLY_US and self._taking_over(inst):
            # A busy loop may run this timer before it reads an advert that came in
            # time (at start-up, after a burst of work): the socket is read first.
            self._read_for(inst)
            self.fast.refresh(inst)
            due = inst.router.next_deadline()
        effects: list[Effect] = []
        if due is not None and now < due <= now + TAKEOVER_EARLY_US and self._taking_over(inst):
            # The Master_Down_Timer was woken early (a wake-up costs more than this):
            # make its burst if a reload or an interface change dropped it, and wait
            # out the rest here, so the takeover starts on time.
            self._ready_takeover(inst)
            while (now := now_us()) < due:
                pass
        inst.clock_floor = now
        fired = None
        if due is not None and due <= now:
            t = inst.takeover
            if t is not None:
                priority = inst.router.takeover_priority(now)
                if priority is not None and t.valid(inst, priority):
                    fired = t.fire()  # before anything else: see daemon/takeover.py
                    inst.takeover = None
                    inst.takeover_bursts += 1
            self.fast.reclaim(inst)
            effects = inst.router.handle_timer(now)
        self._apply(inst, effects, now, fired)

    def _read_for(self, inst: Instance) -> None:
        """Read the socket of ``inst`` now (its reader task may not have run yet)."""
        if inst.ah is not None:
            return
        sock = inst.rx
        rx_filter = self.fast.filters.get(sock.fileno()) if sock.family == 4 else None
        with contextlib.suppress(OSError):  # its reader reports it
            self._read(sock, rx_filter)

    def _watch(self, now: int) -> None:
        """The filters' Master_Down watch came due: the routers whose deadline is near fire
        as their own timers do (which read their socket first)."""
        for index in self.fast.expiring(now + TAKEOVER_EARLY_US):
            self._fire(index, now_us())
        nxt = self.fast.next_watch()
        if nxt is not None:
            self.timers.schedule_by(WATCH_KEY, nxt - TAKEOVER_EARLY_US)

    # --- effects ------------------------------------------------------------------

    def _apply(
        self, inst: Instance, effects: list[Effect], now: int, fired: Fired | None = None
    ) -> None:
        # What goes on the wire and into the kernel first (advert, VIPs, first GARPs),
        # then what is told (log lines, notifications): a cold log record or notify plan
        # costs more than a packet.  The log lines keep keepalived's order.  ``fired``:
        # the takeover burst sent the first advert, the VIPs and GARP rounds already.
        told: list[Effect] = []
        vips: list[bool] = []
        unfinished: list[Callable[[], None]] = []
        if inst.ah is not None:
            for effect in effects:
                if isinstance(effect, StateChanged) and effect.new is State.MASTER:
                    inst.ah_counter.going_master()  # before its first advert
        gratuitous: list[tuple[PacketSender, list[bytes]]] = []
        if any(isinstance(effect, SendGratuitous) for effect in effects):
            # decided before the advert leaves: between it and the first GARP go only
            # the VIPs' netlink message and the sends
            inst.garp.became_master(now)
            rounds = inst.garp.due(now)
            if fired is not None:
                for sender, results in fired.garp_results():
                    sender.count(results)
                rounds -= fired.rounds
            if rounds > 0:
                gratuitous = self._frames_to_send(inst, self._garp_frames(inst), rounds, now)
        burst_advert = burst_vips = fired
        for effect in effects:
            if isinstance(effect, SendAdvert):
                if burst_advert is not None and effect.priority == burst_advert.priority:
                    self._count_advert(inst, burst_advert.advert_results(), effect.priority)
                    burst_advert = None
                else:
                    self._send_advert(inst, effect.priority)
            elif isinstance(effect, ChangeVips):
                if burst_vips is not None and effect.add:
                    finish = self._burst_vips(inst, burst_vips)
                    burst_vips = None
                else:
                    finish = self._change_vips(inst, effect.add, log_it=False)
                if finish is not None:
                    vips.append(effect.add)
                    unfinished.append(finish)
            elif isinstance(effect, SendGratuitous):
                for sender, frames in gratuitous:
                    sender.send(frames)
            else:
                told.append(effect)
        for finish in unfinished:
            finish()
        for effect in told:  # keepalived logs the new state before it acts on it
            if isinstance(effect, StateChanged):
                self._log_state(inst, effect)
        for add in vips:
            self._log_vips(inst, add)
        for effect in told:
            if isinstance(effect, StateChanged):
                self._state_changed(inst, effect, now)
            elif isinstance(effect, LowerPriorityAdvert):
                inst.garp.lower_priority_advert(now)
                if inst.ah is not None:
                    inst.ah_counter.lower_priority_seen(inst.ah_last_seq)
                self._notify(self.planner.master_rx_lower_pri, inst.name, effect.priority)
            elif isinstance(effect, WantMaster):
                self._want_master(inst, now)
            elif isinstance(effect, PriorityChanged):
                state = NotifyState.of(inst.router.state)
                self._notify(self.planner.priority_changed, inst.name, state, effect.new)
            elif isinstance(effect, Log):
                log.info("%s", effect.text)
        if self.fast.delegate_master(inst):
            self.timers.schedule(PUMP_KEY, self.fast.pump.next_deadline())
        garp = inst.garp
        if garp.master:
            rounds = garp.due(now)
            if rounds:
                self._send_gratuitous(inst, rounds, now)
            if garp.extra_due(now):
                self._send_frames(inst, self._extra_if_frames(inst), 1, now)
            g = garp.next_deadline()
        else:
            g = None
        d = inst.router.next_deadline()
        if d is not None and self._taking_over(inst):
            d -= TAKEOVER_EARLY_US
            self._ready_takeover(inst)
            if self.fast.watched(inst):
                self.timers.schedule_by(WATCH_KEY, d)
                d = None
        elif inst.takeover is not None:
            inst.takeover.close()
            inst.takeover = None
        self.timers.schedule(inst.index, d if g is None else g if d is None or g < d else d)

    def _ready_takeover(self, inst: Instance) -> None:
        """Make (or keep) the burst of a BACKUP waiting for its Master_Down_Timer."""
        r = inst.router
        priority = r.effective_priority
        t = inst.takeover
        if t is not None:
            if t.valid(inst, priority):
                return
            t.close()
            inst.takeover = None
        conf = inst.conf
        if inst.ah is not None or r.config.sync_group or self._stop.is_set():
            return  # AH adverts are numbered at sending; a group decides together
        if not conf.accept and r.base_priority != PRIORITY_OWNER:
            return  # the VIPs are blocked by nftables before they appear
        rounds = inst.garp.first_rounds()
        garps = []
        for ifindex, frames in self._garp_frames(inst).items():
            sender = self._sender(ifindex)
            if sender is None or self.pacing.paces(ifindex, frames):
                return  # paced GARPs are timed one by one
            garps.append((sender, frames * rounds))
        ops = self._host_ops(inst, True)
        vips = self.host.ready(ops)
        if vips is None and ops.addresses:
            return  # a kernel that sends its own batches (the tests' fake)
        inst.takeover = takeover.make(inst, priority, vips, garps, rounds)

    @staticmethod
    def _taking_over(inst: Instance) -> bool:
        """Whether the instance's next deadline is a BACKUP's Master_Down_Timer."""
        r = inst.router
        return r.state is State.BACKUP and r.master_down_deadline == r.next_deadline()

    def _send_advert(self, inst: Instance, priority: int) -> None:
        if inst.ah is not None:
            self._send_ah_advert(inst, inst.ah, priority)
            return
        if priority and not fast.send_begin():
            return  # the stop signal's handler sent the priority-0 adverts: none may follow
        try:
            for dst in inst.destinations:
                inst.socket.send(inst.encoded(priority, dst), dst, inst.source)
        finally:
            if priority:
                fast.send_end()
        self._count_advert(inst, (), priority)

    def _count_advert(self, inst: Instance, burst: Sequence[int], priority: int) -> None:
        """One advert went out (``burst``: the errno of each of its sends in a burst)."""
        for err in burst:
            if err:
                inst.socket.send_errors += 1
            else:
                inst.socket.sent += 1
        inst.adverts_sent += 1
        if priority == 0:
            inst.priority_zero_sent += 1
            log.debug("(%s) sent 0 priority", inst.name)

    def _send_ah_advert(self, inst: Instance, ah: AhSocket, priority: int) -> None:
        """One AH advert (keepalived: one IP id and sequence number for all peers)."""
        seq = inst.ah_counter.next_send()
        inst.ip_id = inst.ip_id % 0xFFFF + 1
        inst.adverts_sent += 1
        inst.priority_zero_sent += priority == 0
        unicast = bool(inst.conf.unicast_peers)
        for dst in inst.destinations:
            packet = build_ah_packet(
                src=inst.source,
                dst=dst,
                ip_id=inst.ip_id,
                vrrp_payload=inst.encoded(priority, dst),
                key=inst.ah_key,
                seq=seq,
                unicast=unicast,
            )
            ah.send(packet, dst)

    def _remove_stale_vips(self, inst: Instance) -> None:
        """At start, VIPs a previous run left behind go (keepalived does the same)."""
        if inst.conf.virtual_ipaddresses or inst.conf.virtual_ipaddresses_excluded:
            finish = self._change_vips(inst, add=False)
            if finish is not None:
                finish()

    def _log_vips(self, inst: Instance, add: bool) -> None:
        conf = inst.conf
        if conf.virtual_ipaddresses or conf.virtual_ipaddresses_excluded:
            log.info("(%s) %s VIPs.", inst.name, "setting" if add else "removing")

    def _host_ops(self, inst: Instance, add: bool) -> Ops:
        """The kernel operations of the VIP set, built once per interface set (a takeover
        is a hot path: they are made at start-up)."""
        ops = inst.host_ops.get((add, inst.vip_interfaces))
        if ops is None:
            conf = inst.conf
            ops = self.host.ops(
                add,
                list(
                    zip(
                        conf.virtual_ipaddresses + conf.virtual_ipaddresses_excluded,
                        inst.vip_interfaces,
                        strict=True,
                    )
                ),
                conf.virtual_routes,
                conf.virtual_rules,
            )
            inst.host_ops[(add, inst.vip_interfaces)] = ops
        return ops

    def _burst_vips(self, inst: Instance, fired: Fired) -> Callable[[], None] | None:
        """:meth:`_change_vips` (adding) when a takeover burst sent the addresses."""
        sent = fired.vips_sent()
        if sent is None:  # no addresses, or the kernel refused the send: the usual way
            return self._change_vips(inst, True, log_it=False)
        return self.host.sent(inst.name, self._host_ops(inst, True), sent.answers)

    def _change_vips(
        self, inst: Instance, add: bool, *, log_it: bool = True
    ) -> Callable[[], None] | None:
        """The instance's VIPs, eVIPs, virtual routes and rules (keepalived's VIP set).

        The addresses change now; the returned function finishes the change (reads
        the kernel's answers, then routes and rules: ``HostSide.begin``), so that a
        new master can send its gratuitous ARPs in between.  None if they were left
        as they are (``-V`` at stop).
        """
        if not add and not self.release_vips and self._stop.is_set():
            return None
        conf = inst.conf
        vips = conf.virtual_ipaddresses + conf.virtual_ipaddresses_excluded
        if log_it:
            self._log_vips(inst, add)
        no_accept = not conf.accept and inst.router.base_priority != PRIORITY_OWNER
        if no_accept and add:  # blocked before they appear (RFC 5798 6.4.3)
            self.firewall.block((a.address.ip for a in vips), add=True)
        finish = self.host.begin(inst.name, self._host_ops(inst, add))
        if not (no_accept and not add):
            return finish

        def finish_and_unblock() -> None:
            finish()
            self.firewall.block((a.address.ip for a in vips), add=False)

        return finish_and_unblock

    def _change_static(self, add: bool) -> None:
        """``static_ipaddress``/``static_routes``/``static_rules``: set at start, gone at stop."""
        static = self.config.static
        if not (static.addresses or static.routes or static.rules):
            return
        default = self.config.global_defs.default_interface
        addresses = []
        for a in static.addresses:
            try:
                addresses.append((a, self._interface(a.dev or default).index))
            except LookupError as e:
                log.warning("static address %s: %s", a.address, e)
        self.host.change("static", add, addresses, static.routes, static.rules)

    def _garp_frames(self, inst: Instance) -> dict[int, list[bytes]]:
        """The instance's GARP/NA frames by interface, built once per MAC and interface
        set.  Each carries the MAC of the interface its VIP is on, as keepalived's do
        (the carrier's, a VMAC's for the instance's own VIPs; a ``dev``'s own)."""
        key = (inst.interface.mac, inst.vip_interfaces)
        if inst.garp_frames[0] != key:
            conf = inst.conf
            vips = conf.virtual_ipaddresses + conf.virtual_ipaddresses_excluded
            frames: dict[int, list[bytes]] = {}
            macs = {i.index: i.mac for i in self._interfaces.values()}
            macs[inst.interface.index] = inst.interface.mac
            for a, ifindex in zip(vips, inst.vip_interfaces, strict=True):
                ip, mac = a.address.ip, macs.get(ifindex, inst.interface.mac)
                frame = garp_frame(mac, ip) if ip.version == 4 else unsolicited_na_frame(mac, ip)
                frames.setdefault(ifindex, []).append(frame)
            inst.garp_frames = (key, frames)
        return inst.garp_frames[1]

    def _extra_if_frames(self, inst: Instance) -> dict[int, list[bytes]]:
        """``garp_extra_if``: one GARP/NA per other interface of the instance's VIPs (its
        first VIP there), on the VMACs this process made, or on every one with ``all``;
        on the instance's own interface only with ``vmac_xmit_base`` (its adverts leave
        from the base then), as keepalived's ``vrrp_send_vmac_update``."""
        conf = inst.conf
        ours = set(self.vmacs.created.values()) if self.vmacs is not None else set()
        out = {}
        for ifindex, frames in self._garp_frames(inst).items():
            if ifindex == inst.interface.index and not conf.vmac_xmit_base:
                continue
            if ifindex in ours or conf.garp_extra_if_all:
                out[ifindex] = frames[:1]
        return out

    def _send_gratuitous(self, inst: Instance, rounds: int, now: int) -> None:
        self._send_frames(inst, self._garp_frames(inst), rounds, now)

    def _send_frames(
        self, inst: Instance, by_interface: dict[int, list[bytes]], rounds: int, now: int
    ) -> None:
        for sender, frames in self._frames_to_send(inst, by_interface, rounds, now):
            sender.send(frames)

    def _frames_to_send(
        self, inst: Instance, by_interface: dict[int, list[bytes]], rounds: int, now: int
    ) -> list[tuple[PacketSender, list[bytes]]]:
        """What the pacing lets go now, by sender (the rest is queued and timed)."""
        out = []
        for ifindex, batch in by_interface.items():
            sender = self._sender(ifindex)
            if sender is None:
                log.warning("(%s) cannot send gratuitous ARPs/NAs on %d", inst.name, ifindex)
                continue
            frames, keys = self.pacing.offer(ifindex, batch, rounds, now)
            if frames:
                out.append((sender, frames))
            for key in keys:
                self.timers.schedule(key, self.pacing.next_deadline(key))
        return out

    def gratuitous_senders(self) -> list[PacketSender]:
        """The open GARP/NA senders, one per interface (for the status)."""
        return list(self._senders.values())

    def _sender(self, ifindex: int) -> PacketSender | None:
        sender = self._senders.get(ifindex)
        if sender is None:
            try:
                sender = self._senders[ifindex] = PacketSender(ifindex)
            except OSError:
                return None
        return sender

    def _log_state(self, inst: Instance, change: StateChanged) -> None:
        old, new = change.old, change.new
        if old is State.BACKUP and new is State.MASTER:
            log.info("(%s) Receive advertisement timeout", inst.name)
        if new is State.MASTER:
            log.info("(%s) Entering MASTER STATE", inst.name)
        elif new is State.BACKUP:
            log.info("(%s) Entering BACKUP STATE%s", inst.name, " (init)" * (old is State.INIT))
        elif new is State.FAULT:
            log.info("(%s) Entering FAULT STATE%s", inst.name, " (init)" * (old is State.INIT))

    def _state_changed(self, inst: Instance, change: StateChanged, now: int) -> None:
        if change.new is not State.INIT:
            inst.transitions += 1
            inst.last_transition = time.time()
        syncd = self.sync_daemons
        if syncd is not None and syncd.instance == inst.name and change.new is not State.INIT:
            self._syncd_send.send_nowait(change.new is State.MASTER)
        if State.MASTER in (change.old, change.new):
            self._leave_watch.mark()
        if change.old is State.MASTER:
            inst.garp.left_master()
            self.pacing.cancel([f for fs in self._garp_frames(inst).values() for f in fs])
        if change.new is not State.INIT:
            state = NotifyState.of(change.new)
            self._notify(
                self.planner.instance_state, inst.name, state, inst.router.effective_priority
            )
        group = self.groups.get(inst.name)
        if group is not None and change.new is not State.INIT:
            self._group_decisions(group.member_changed(inst.name, change.new), now)

    def _notify(self, plan: Callable[..., tuple[Notification, ...]], *args: object) -> None:
        if self.notifier is not None:
            self.notifier.submit(plan(*args))

    # --- reload -------------------------------------------------------------------

    # --- runtime actions (the control socket) ----------------------------------------

    def demote(self, name: str) -> tuple[bool, str]:
        """Maintenance: the instance gives up mastership and stays BACKUP at the lowest
        priority (1) until :meth:`promote` or the next reload.  A master sends one
        priority 0 advert (the backups take over after their skew time, as on a stop),
        removes its VIPs and becomes BACKUP; a backup only lowers its priority.  An
        address owner (priority 255) cannot be demoted.  Returns whether it was done,
        and what was done or why not."""
        inst = self._by_name.get(name)
        if inst is None:
            return False, f"no instance {name}"
        r = inst.router
        if r.base_priority == PRIORITY_OWNER:
            return False, f"({name}) is an address owner (priority 255): it cannot be demoted"
        if name in self.demoted:
            return False, f"({name}) is demoted already"
        self.demoted.add(name)
        now = now_us()
        log.info("(%s) demoted at run time (priority %d)", name, DEMOTED_PRIORITY)
        self.fast.reclaim(inst)
        effects = r.set_tracking(fault=r.fault, priority=DEMOTED_PRIORITY, now=now)
        if r.state is State.MASTER:
            effects = [*effects, SendAdvert(0), *r.sync(State.BACKUP, now)]
        self._apply(inst, effects, now)
        return True, f"({name}) demoted: {r.state.value} at priority {r.effective_priority}"

    def promote(self, name: str) -> tuple[bool, str]:
        """Undo :meth:`demote`: the priority tracking says again (with ``preempt``, a
        higher-priority instance takes mastership back at its next Master_Down_Timer).
        Returns whether it was done, and what or why not."""
        inst = self._by_name.get(name)
        if inst is None:
            return False, f"no instance {name}"
        if name not in self.demoted:
            return False, f"({name}) is not demoted"
        self.demoted.discard(name)
        log.info("(%s) promoted at run time", name)
        outcomes = {o.instance: o for o in self.tracker.outcomes()}
        outcome = outcomes.get(name)
        group = self.groups.get(name)
        if group is not None and outcome is not None:
            members = {m: outcomes[m] for m in group.members if m in outcomes}
            outcome = group.tracking(members).get(name, outcome)
        r = inst.router
        priority = outcome.effective_priority if outcome is not None else r.base_priority
        fault = (outcome.fault or outcome.waiting) if outcome is not None else r.fault
        now = now_us()
        self.fast.reclaim(inst)
        self._apply(inst, r.set_tracking(fault=fault, priority=priority, now=now), now)
        return True, f"({name}) promoted: {r.state.value} at priority {r.effective_priority}"

    def reload(self, config: Config) -> None:
        """Apply a configuration read again (SIGHUP): only what changed, nothing else.

        ``vrrp.reload_plan`` says what changed. Removed instances leave as on a
        stop; added ones start as at start-up; a matched instance keeps its state
        (keepalived ``restore_vrrp_state``): changed in place, its timers run on
        and only its VIP / route / rule difference touches the host (a VIP in
        both configurations is never removed, not even for a moment); rebuilt,
        it also advertises at once (master) or restarts its Master_Down_Timer
        (backup), as keepalived does after a reload. GARPs / NAs go only for the
        addresses a master gained (keepalived repeats them for all its addresses
        once any was added: pykad leaves the unchanged ones alone). Unchanged
        instances are not touched and not notified. ``config`` has been checked
        (a config with errors never comes here).
        """
        if self._nursery is None or self._stop.is_set():
            log.warning("VRRP is not running: reload ignored")
            return
        now = now_us()
        plan = plan_reload(self.config, config)
        log.info("Reloading VRRP configuration")
        self._leave_watch.mark()
        for what in plan.restart_needed:
            log.warning("%s changed: it takes effect at the next start", what)
        self.config = config
        self.demoted.clear()  # runtime actions last until the next reload
        for conf in plan.removed:
            inst = self._by_name.get(conf.name)
            if inst is not None:
                self._remove(inst, now)
        self._reload_static(plan.static)
        old_groups = {g.name: g for g in self.groups.values()}
        if plan.sync_groups_changed:
            self.groups = group_of(SyncGroup(g.name, g.members) for g in config.vrrp.sync_groups)
        self.planner = self.planner.reloaded(
            config.vrrp.instances, config.vrrp.sync_groups, self._mail_alerts(config)
        )
        old_tracker = self.tracker
        self.tracks = config_tracks(config.vrrp, made=self._tracks_made)
        self.tracker = old_tracker.reloaded(self.tracks)
        if plan.garp_changed:
            self.pacing = Pacing(
                config.global_defs.garp, config.vrrp.garp_groups, self._interface_name
            )
        sockets = set(self.sockets.values())
        ah_sockets = set(self._ah_sockets.values())
        # every old instance is found before any changes: a name or a VRID may pass
        # from one instance to another (instances are matched as keepalived does)
        changed: list[tuple[InstancePlan, Instance]] = []
        for p, inst in [(p, self._by_name.get(p.old.name)) for p in plan.matched]:
            if inst is None:
                continue
            if p.change is Change.UNCHANGED:
                inst.conf = p.new
                if inst.takeover is not None and not plan.garp_changed:
                    inst.takeover.conf = p.new  # the same content: the burst holds
                continue
            log.info("(%s) %s by the reload: %s", p.new.name, p.change.value, ", ".join(p.reasons))
            changed.append((p, inst))
        for _, inst in changed:
            self._forget(inst)
        replaced = [(p, old, self._replace(old, p, now)) for p, old in changed]
        touched = [new for _, _, new in replaced]
        self._reload_addresses(
            [(p, old, new) for p, old, new in replaced if old.router.state is State.MASTER], now
        )
        added: list[Instance] = []
        for conf in plan.added:
            try:
                inst = self._add_instance(conf)
            except (LookupError, ValueError, OSError) as e:
                log.error("(%s) cannot be added by the reload: %s", conf.name, e)
                continue
            self._prepare(inst)
            self._remove_stale_vips(inst)
            added.append(inst)
        for sock in self.sockets.values():
            if sock not in sockets:
                self._nursery.start_soon(self._reader, sock)
        for index, ah in self._ah_sockets.items():
            if ah not in ah_sockets:
                self._nursery.start_soon(self._ah_reader, index, ah)
        if plan.sync_groups_changed:
            self._restore_groups(old_groups, now)
        if plan.tracking_changed:
            self._restart_sources(old_tracker)
        self._reload_outcomes(touched, added, now)
        new_groups = {g.name for g in self.groups.values()} - set(old_groups)
        for group in dict.fromkeys(self.groups.values()):
            if group.name in new_groups:
                fault = any(
                    self._by_name[m].router.fault for m in group.members if m in self._by_name
                )
                state = NotifyState.FAULT if fault else NotifyState.BACKUP
                self._notify(self.planner.group_state, group.name, state)
        for inst in added:
            log.info("(%s) added by the reload", inst.name)
            self._apply(inst, inst.router.start(now), now)
        self._drop_unused_vmacs()
        self._size_rx_buffers()
        freeze_long_lived(collect=False)  # a full pass now would hold up the adverts
        log.info(
            "Reload finished: %d unchanged, %d changed in place, %d rebuilt, %d added, %d removed",
            len(plan.by_change(Change.UNCHANGED)),
            len(plan.by_change(Change.IN_PLACE)),
            len(plan.by_change(Change.REBUILT)),
            len(added),
            len(plan.removed),
        )

    def _drop_unused_vmacs(self) -> None:
        """The VMACs this process made that no instance has any more (removed by a
        reload) are deleted, as keepalived's reload deletes a removed instance's VMAC."""
        if self.vmacs is None:
            return
        used = {inst.interface.index for inst in self.instances}
        used.update(i for inst in self.instances for i in inst.vip_interfaces)
        for name, index in list(self.vmacs.created.items()):
            if index not in used:
                self._drop_vmac(name, index)
        self._vip_vmacs = {k: v for k, v in self._vip_vmacs.items() if v.index in used}

    def _drop_vmac(self, name: str, index: int) -> None:
        """Delete VMAC ``name`` with the sockets on it (the instances that used them
        are forgotten: the fast paths no longer hold them)."""
        assert self.vmacs is not None
        self._leave_watch.mark()  # the stop signal's handler must not send on them
        for table in (self.sockets, self._tx_sockets):
            for family in (4, 6):
                sock = table.pop((index, family), None)
                if sock is not None:
                    self.fast.filters.pop(sock.fileno(), None)  # a new socket may get its fd
                    trio.lowlevel.notify_closing(sock.sock)
                    sock.close()
                self._by_vrid.pop((index, family), None)
        ah = self._ah_sockets.pop(index, None)
        if ah is not None:
            trio.lowlevel.notify_closing(ah.fileno())
            ah.close()
            self._ah_by_vrid.pop(index, None)
        sender = self._senders.pop(index, None)
        if sender is not None:
            sender.close()
        log.info("Removing VMAC interface %s: no instance uses it", name)
        self._interfaces.pop(name, None)
        self.vmacs.remove(name)

    def _register(self, inst: Instance) -> None:
        self.instances.append(inst)
        self._by_name[inst.name] = inst
        self._by_index[inst.index] = inst
        self._by_vrid[(inst.rx.ifindex, inst.rx.family)][inst.conf.vrid] = inst
        if inst.ah is not None:
            self._ah_by_vrid[inst.interface.index][inst.conf.vrid] = inst

    def _forget(self, inst: Instance) -> None:
        """The instance no longer receives, fires or is found by name (a reload)."""
        self.fast.reclaim(inst)
        self.instances.remove(inst)
        self._by_index.pop(inst.index, None)
        if self._by_name.get(inst.name) is inst:
            del self._by_name[inst.name]
        vrids = self._by_vrid.get((inst.rx.ifindex, inst.rx.family), {})
        if vrids.get(inst.conf.vrid) is inst:
            del vrids[inst.conf.vrid]
        if inst.ah is not None:
            self._ah_by_vrid.get(inst.interface.index, {}).pop(inst.conf.vrid, None)
        self.timers.schedule(inst.index, None)
        if inst.takeover is not None:
            inst.takeover.close()
            inst.takeover = None

    def _remove(self, inst: Instance, now: int) -> None:
        """An instance the new configuration does not have leaves as on a stop
        (keepalived ``vrrp_restore_interface``): priority 0 from a master, VIPs gone."""
        log.info("(%s) removed by the reload", inst.name)
        self.fast.reclaim(inst)
        priority = inst.router.effective_priority
        self._apply(inst, inst.router.shutdown(now), now)
        self._notify(self.planner.deleted, inst.name, priority)
        self._forget(inst)

    def _replace(self, old: Instance, p: InstancePlan, now: int) -> Instance:
        """A new instance for ``p.new`` that takes over ``old``'s state, counters and host
        side (``old`` is already forgotten)."""
        if (
            self.vmacs is not None
            and p.new.vmac is not None
            and old.interface.name in self.vmacs.created
            and old.interface.name != self._vmac_ifname(p.new)
        ):  # a renamed VMAC: its MAC can be on one macvlan only, the old one goes first
            self._drop_vmac(old.interface.name, old.interface.index)
        try:
            new = self._add_instance(p.new, index=old.index)
        except (LookupError, ValueError, OSError) as e:
            log.error("(%s) cannot be changed by the reload, kept as it was: %s", old.name, e)
            self._register(old)
            return old
        new.router.carry_over(
            old.router,
            now,
            restart_timers=p.change is Change.REBUILT,
            advertise=p.priority_changed,
        )
        if new.ah is not None and old.ah is not None:
            new.ah_counter, new.ah_last_seq, new.ip_id = old.ah_counter, old.ah_last_seq, old.ip_id
        garp = old.garp  # a master's refresh runs on; no new burst for what it had
        garp.timing = new.garp.timing
        new.garp = garp
        # keepalived copies the stats over a reload
        new.adverts_sent, new.priority_zero_sent = old.adverts_sent, old.priority_zero_sent
        new.transitions, new.last_transition = old.transitions, old.last_transition
        self._prepare(new)
        return new

    def _reload_addresses(
        self, masters: Sequence[tuple[InstancePlan, Instance, Instance]], now: int
    ) -> None:
        """The masters' VIP sets across a reload: only the difference (keepalived
        ``clear_diff_vrrp_vip`` and ``restore_vrrp_state``), GARPs for what they gained.

        Every removal goes before any addition, and an address another master now
        holds is not removed, so a VIP that moves between two masters stays up.  After
        a removal the master's whole set is written again (what the kernel already has
        is "already so"): with ``promote_secondaries`` off the kernel drops the
        secondary addresses of a primary that goes."""
        wanted: dict[tuple[object, int], set[str]] = {}
        removing = any(p.host.remove_addresses for p, _, _ in masters)
        for inst in self.instances if removing else ():
            if inst.router.state is State.MASTER:
                for a in inst.conf.virtual_ipaddresses + inst.conf.virtual_ipaddresses_excluded:
                    wanted.setdefault((a.address, self._vip_ifindex(inst, a)), set()).add(inst.name)
        for p, old, new in masters:
            self._remove_vips(old, new, p, wanted)
        for p, old, new in masters:
            self._add_vips(new, p, now, moved=old.interface.index != new.interface.index)

    def _remove_vips(
        self,
        old: Instance,
        new: Instance,
        p: InstancePlan,
        wanted: Mapping[tuple[object, int], set[str]],
    ) -> None:
        """What ``old`` held and ``new`` does not (but not what another master wants);
        ``no_accept`` blocks follow."""

        def blocked(inst: Instance) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
            conf = inst.conf
            if conf.accept or inst.router.base_priority == PRIORITY_OWNER:
                return set()
            return {
                a.address.ip for a in conf.virtual_ipaddresses + conf.virtual_ipaddresses_excluded
            }

        was, now_blocked = blocked(old), blocked(new)
        host = p.host
        if not host.empty:
            log.info(
                "(%s) reload: removing %d and adding %d addresses, %d/%d routes, %d/%d rules",
                new.name,
                len(host.remove_addresses),
                len(host.add_addresses),
                len(host.remove_routes),
                len(host.add_routes),
                len(host.remove_rules),
                len(host.add_rules),
            )
        gone = host.remove_addresses
        if old.interface.index != new.interface.index:  # a renamed VMAC: its addresses
            gone = ()  # went with it
        removed = [
            (a, i)
            for a, i in ((a, self._vip_ifindex(old, a)) for a in gone)
            if not wanted.get((a.address, i), set()) - {new.name}
        ]
        self.host.apply(
            new.name, self.host.ops(False, removed, host.remove_routes, host.remove_rules)
        )
        if was - now_blocked:
            self.firewall.block(was - now_blocked, add=False)
        if now_blocked - was:
            self.firewall.block(now_blocked - was, add=True)

    def _add_vips(self, new: Instance, p: InstancePlan, now: int, moved: bool) -> None:
        """What ``new`` gained (the whole set after a removal), GARPs for the gained;
        ``moved``: its interface changed (a renamed VMAC), all its addresses are new there."""
        host = p.host
        gained = new.conf.virtual_ipaddresses + new.conf.virtual_ipaddresses_excluded
        if not moved:
            gained = host.add_addresses
        added = [(a, self._vip_ifindex(new, a)) for a in gained]
        addresses = added
        if host.remove_addresses:
            conf = new.conf
            every = conf.virtual_ipaddresses + conf.virtual_ipaddresses_excluded
            addresses = [(a, self._vip_ifindex(new, a)) for a in every]
        self.host.apply(new.name, self.host.ops(True, addresses, host.add_routes, host.add_rules))
        if added and new.router.state is State.MASTER:
            frames: dict[int, list[bytes]] = {}
            mac = new.interface.mac
            for a, ifindex in added:
                ip = a.address.ip
                frame = garp_frame(mac, ip) if ip.version == 4 else unsolicited_na_frame(mac, ip)
                frames.setdefault(ifindex, []).append(frame)
            self._send_frames(new, frames, max(1, new.conf.garp_master_repeat), now)

    def _vip_ifindex(self, inst: Instance, address: IpAddress) -> int:
        return self._interface(address.dev).index if address.dev else inst.interface.index

    def _reload_static(self, diff: HostDiff) -> None:
        """``static_*`` across a reload: what went is removed, what came is added."""
        if diff.empty:
            return
        log.info("Reload: static addresses, routes and rules changed")
        for add, addresses, routes, rules in (
            (False, diff.remove_addresses, diff.remove_routes, diff.remove_rules),
            (True, diff.add_addresses, diff.add_routes, diff.add_rules),
        ):
            resolved = []
            for a in addresses:
                try:
                    resolved.append((a, self._interface(a.dev or "").index))
                except LookupError as e:
                    log.warning("static address %s: %s", a.address, e)
            self.host.change("static", add, resolved, routes, rules)

    def _restore_groups(self, old_groups: dict[str, SyncGroup], now: int) -> None:
        """Sync groups built again keep their state (keepalived: "Restoring saved sync
        State"); one that lost members leaves MASTER ("Detected instance removed from
        sync-group, forcing BACKUP")."""
        for group in dict.fromkeys(self.groups.values()):
            states = {m: self._by_name[m].router.state for m in group.members if m in self._by_name}
            group.restore(states)
            old = old_groups.get(group.name)
            if old is None:
                continue
            group.state = old.state
            if len(group.members) < len(old.members) and old.state is GroupState.MASTER:
                log.info(
                    "VRRP_Group(%s) Detected instance removed from sync-group, forcing BACKUP",
                    group.name,
                )
                group.state = GroupState.BACKUP
                for m, state in states.items():
                    if state is State.MASTER:
                        member = self._by_name[m]
                        self.fast.reclaim(member)
                        self._apply(member, member.router.sync(State.BACKUP, now), now)

    def _restart_sources(self, old_tracker: Tracker) -> None:
        """The tracked objects changed: their drivers start again; statuses carry over
        (a script keeps its result until it runs, as keepalived's "considered successful
        on reload"), new objects start as at start-up."""
        if self._sources_scope is not None:
            self._sources_scope.cancel()
            self._sources_scope = None
        sources = self.sources = TrackingSources(
            self.config, self.tracks, self._link_up, on_link_event=self._link_event
        )
        known = set(old_tracker.objects())
        for update in sources.initial():
            if update.obj.kind is Kind.SCRIPT and update.obj in known:
                continue
            self.tracker.update(update.obj, update.status)
        self._start_sources(sources)

    def _reload_outcomes(self, touched: list[Instance], added: list[Instance], now: int) -> None:
        """Tracking's word for every instance after a reload: rebuilt and changed ones
        always hear it (their new priority), others only if it differs."""
        outcomes = {o.instance: o for o in self.tracker.outcomes()}
        for group in dict.fromkeys(self.groups.values()):
            members = {m: self.tracker.outcome(m) for m in group.members if m in self._by_name}
            outcomes.update(group.tracking(members))
        fresh = {id(i) for i in touched + added}
        for inst in list(self.instances):
            o = outcomes.get(inst.name)
            r = inst.router
            if o is None:
                continue
            fault = o.fault or o.waiting
            if (
                id(inst) not in fresh
                and fault == r.fault
                and (
                    o.effective_priority == r.effective_priority
                    or r.base_priority == PRIORITY_OWNER
                )
            ):
                continue
            self.fast.reclaim(inst)
            effects = r.set_tracking(fault=fault, priority=o.effective_priority, now=now)
            self._apply(inst, effects, now)  # added ones: before their start, as at start-up

    # --- sync groups ----------------------------------------------------------------

    def _notify_groups_at_start(self) -> None:
        """keepalived ``vrrp_init_state``: groups in BACKUP or FAULT notify before members."""
        for group in dict.fromkeys(self.groups.values()):
            members = [self._by_name[m] for m in group.members if m in self._by_name]
            fault = any(m.router.fault for m in members)
            self._notify(
                self.planner.group_state,
                group.name,
                NotifyState.FAULT if fault else NotifyState.BACKUP,
            )

    def _want_master(self, inst: Instance, now: int) -> None:
        group = self.groups[inst.name]
        allowed, decisions = group.want_master(inst.name)
        if allowed:
            self.fast.reclaim(inst)
            self._apply(inst, inst.router.sync(State.MASTER, now), now)
        self._group_decisions(decisions, now)

    def _group_decisions(self, decisions: Sequence[ForceState | GroupChanged], now: int) -> None:
        for d in decisions:
            if isinstance(d, GroupChanged):
                log.info("VRRP_Group(%s) Syncing instances to %s state", d.group, d.state.value)
                if d.state.value != "INIT":
                    self._notify(self.planner.group_state, d.group, NotifyState.of(d.state))
            elif (member := self._by_name.get(d.instance)) is not None:
                self.fast.reclaim(member)
                self._apply(member, member.router.sync(d.state, now), now)
