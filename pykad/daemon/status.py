"""What each child answers on its control socket: plain JSON values read from its service.

Owns the request handlers of the three children (``daemon.control`` carries
them): ``status``, ``stats`` and the runtime actions.  Reading is cheap and
never changes the service (read in the child's own loop: each record is one
object at one moment; the VRRP child's is built in slices, ``SLICE``
instances at a time, so that its timers run in between); the actions call the service's
own methods (``VrrpService.demote`` / ``promote``, ``CheckService.drain`` /
``undrain``), which say what they did.  No I/O and no clock here (the VRRP
status only takes trio checkpoints).

The replies (every key stable, ``pykadctl --json`` prints them merged):

- VRRP: ``instances``: name, state, vrid, interface, priority (configured),
  effective_priority, demoted, vips, master (the address a BACKUP follows),
  transitions, last_transition (wall clock), takeover_bursts (takeovers whose
  first packets went out as one prepared burst, ``daemon.takeover``), stats (keepalived's
  ``vrrp_stats`` names, ``daemon.dump``), errors (the router's drop counters
  by kind); ``service``: unknown_vrid, too_short, gratuitous (per interface: the
  GARPs/NAs sent, those that could not be sent and, of those, the ones a full socket
  refused), timer_wakeups (timers run since start: the advert pump's rounds, the
  Master_Down watch, each instance's own).
- checker: ``virtual_servers``: name, quorum_up, real_servers (address, port,
  alive, weight configured, weight in IPVS or null, drained); ``stats``;
  ``ipvs``: the kernel's counters of each owned service (``daemon.ipvs_stats``);
  ``latency``: attempt durations by checker kind (``daemon.latency``).
- BFD: ``sessions``: name, neighbor, state, remote_state, local/remote
  discriminators, flaps (Up -> down), up_transitions, packets sent / received
  (those the Cython loop handled are counted by it, not here); ``events``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from ipaddress import ip_address
from typing import TYPE_CHECKING, Any

from pykad.daemon import dump
from pykad.daemon.control import Reply, dispatch, error

if TYPE_CHECKING:
    from pykad.daemon.actions import Actions
    from pykad.daemon.bfd_service import BfdService
    from pykad.daemon.check_service import CheckService
    from pykad.daemon.control import AsyncHandler, Handler
    from pykad.daemon.ipvs_stats import ServiceStats
    from pykad.daemon.vrrp_service import Instance, VrrpService
    from pykad.lb.table import ServiceKey


# --------------------------------------------------------------------------- VRRP


SLICE = 64
"""Instances per slice of a VRRP status: the loop takes a checkpoint between slices."""


def instance_status(service: VrrpService, inst: Instance, started: float) -> Reply:
    """One instance's record (see the module's docstring)."""
    r = inst.router
    state = r.state.value
    master = r.master_address if state == "BACKUP" else None
    return {
        "name": inst.name,
        "state": state,
        "vrid": inst.conf.vrid,
        "interface": inst.conf.interface or inst.interface.name,
        "priority": r.base_priority,
        "effective_priority": r.effective_priority,
        "demoted": inst.name in service.demoted,
        "vips": [str(a.address) for a in inst.conf.virtual_ipaddresses],
        "master": str(ip_address(master)) if master else None,
        "transitions": inst.transitions,
        "last_transition": inst.last_transition or started,
        "takeover_bursts": inst.takeover_bursts,
        "stats": dataclasses.asdict(dump.instance_stats(service, inst)),
        "errors": dict(r.statistics().dropped),
    }


async def vrrp_status(service: VrrpService, started: float) -> Reply:
    """Every instance, built :data:`SLICE` at a time with a trio checkpoint in between
    (a status of thousands of instances never holds the adverts up); each record is
    one instance at one moment."""
    import trio

    out = []
    for k, inst in enumerate(list(service.instances)):
        if k and k % SLICE == 0:
            await trio.lowlevel.checkpoint()
        out.append(instance_status(service, inst, started))
    return {
        "ok": True,
        "instances": out,
        "service": {
            "unknown_vrid": service.unknown_vrid,
            "too_short": service.too_short,
            "gratuitous": gratuitous_status(service),
            "timer_wakeups": service.timers.fired,
        },
    }


def gratuitous_status(service: VrrpService) -> list[Reply]:
    """The GARP/NA senders' counters, one record per interface."""
    out: list[Reply] = []
    for sender in service.gratuitous_senders():
        s = sender.statistics()
        out.append(
            {
                "interface": sender.ifname,
                "sent": s.sent,
                "errors": s.errors,
                "would_block": s.would_block,
            }
        )
    return out


def _instance_name(req: Mapping[str, Any]) -> str | None:
    name = req.get("instance")
    return name if isinstance(name, str) and name else None


def vrrp_handler(
    service: VrrpService, started: float, actions: Actions | None = None
) -> AsyncHandler:
    """The VRRP child's commands; demotes are recorded in ``actions`` (a respawned
    child demotes them again)."""

    async def handle(req: Mapping[str, Any]) -> Reply:
        cmd = req.get("cmd")
        if cmd in ("status", "stats"):
            return await vrrp_status(service, started)
        if cmd not in ("demote", "promote"):
            return error(f"unknown command {cmd!r}")
        name = _instance_name(req)
        if name is None:
            return error(f"{cmd}: which instance?")
        done, text = service.demote(name) if cmd == "demote" else service.promote(name)
        if done and actions is not None:
            actions.save(sorted(service.demoted))
        return {"ok": True, "done": text} if done else error(text)

    return handle


# --------------------------------------------------------------------------- checkers


def check_status(service: CheckService) -> Reply:
    vss = []
    kernel = service.table.dests
    for s in service.servers:
        in_ipvs: dict[tuple[str, int], int] = {}
        for svc in s.services:
            for key, d in kernel.get(svc.key, {}).items():
                in_ipvs[(str(ip_address(key.address)), key.port)] = d.weight
        real = []
        for j, rs in enumerate(s.config.real_servers):
            addr = str(rs.address)
            port = rs.port or 0
            real.append(
                {
                    "address": addr,
                    "port": port,
                    "alive": s.pool.alive(j),
                    "weight": s.pool.weight(j),
                    "ipvs_weight": in_ipvs.get((addr, port)),
                    "drained": (s.name, addr, port) in service.drained,
                }
            )
        vss.append(
            {
                "name": s.name,
                "quorum_up": s.pool.quorum_up,
                "active": s.pool.active,
                "real_servers": real,
            }
        )
    return {
        "ok": True,
        "virtual_servers": vss,
        "stats": dataclasses.asdict(service.stats),
        "latency": service.latency.snapshot(),
    }


def check_handler(
    service: CheckService,
    counters: Callable[[], Mapping[ServiceKey, ServiceStats]] | None = None,
    actions: Actions | None = None,
) -> AsyncHandler:
    """The checker child's commands.  ``status``/``stats`` also carry the IPVS
    counters of the services pykad owns (``ipvs``: service, connections, packets and
    bytes in and out), read by ``counters`` in a worker thread (a blocking dump)."""
    import trio

    from pykad.daemon.check_service import service_text

    commands = check_commands(service, actions)

    async def handle(req: Mapping[str, Any]) -> Reply:
        reply = commands(req)
        if req.get("cmd") not in ("status", "stats") or counters is None or not reply["ok"]:
            return reply
        try:
            found = await trio.to_thread.run_sync(counters)
        except OSError as e:
            reply["ipvs_error"] = str(e)
            return reply
        reply["ipvs"] = [
            {"service": service_text(key), **dataclasses.asdict(found[key])}
            for key in sorted(service.owned, key=service_text)
            if key in found
        ]
        return reply

    return handle


def check_commands(service: CheckService, actions: Actions | None = None) -> Handler:
    """``status``/``stats``, ``drain``/``undrain`` (recorded in ``actions``: a respawned
    child drains them again)."""

    def status(req: Mapping[str, Any]) -> Reply:
        return check_status(service)

    def drain(req: Mapping[str, Any], on: bool) -> Reply:
        address, port = req.get("address"), req.get("port")
        vs = req.get("virtual_server")
        if not isinstance(address, str) or not isinstance(port, int):
            return error("drain: real server ADDRESS and PORT needed")
        if vs is not None and not isinstance(vs, str):
            return error("drain: bad virtual server")
        done = service.drain(address, port, vs, on=on)
        if not done:
            return error(f"no real server {address} port {port}" + (f" in {vs}" if vs else ""))
        if actions is not None:
            actions.save(sorted(service.drained))
        return {"ok": True, "done": done}

    return dispatch(
        {
            "status": status,
            "stats": status,
            "drain": lambda r: drain(r, True),
            "undrain": lambda r: drain(r, False),
        }
    )


# --------------------------------------------------------------------------- BFD


def bfd_status(service: BfdService) -> Reply:
    sessions = []
    for name, session in service.table.sessions.items():
        peer = service.table.peers[name]
        sessions.append(
            {
                "name": name,
                "neighbor": peer.remote,
                "state": session.session_state.name,
                "remote_state": session.remote_session_state.name,
                "local_discr": session.local_discr,
                "remote_discr": session.remote_discr,
                "flaps": service.flaps.get(name, 0),
                "up_transitions": session.up_transitions,
                "packets_sent": session.packets_sent,
                "packets_received": session.packets_received,
            }
        )
    return {
        "ok": True,
        "sessions": sessions,
        "events": {"sent": service.events_sent, "errors": service.event_errors},
    }


def bfd_handler(service: BfdService) -> Handler:
    def status(req: Mapping[str, Any]) -> Reply:
        return bfd_status(service)

    return dispatch({"status": status, "stats": status})
