"""What each child answers on its control socket: plain JSON values read from its service.

Owns the request handlers of the three children (``daemon.control`` carries
them): ``status``, ``stats`` and the runtime actions.  Reading is cheap and
never changes the service (a snapshot of its objects at one moment, built in
the child's own loop, so it is consistent); the actions call the service's
own methods (``VrrpService.demote`` / ``promote``, ``CheckService.drain`` /
``undrain``), which say what they did.  No I/O and no clock here.

The replies (every key stable, ``pykadctl --json`` prints them merged):

- VRRP: ``instances``: name, state, vrid, interface, priority (configured),
  effective_priority, demoted, vips, master (the address a BACKUP follows),
  transitions, last_transition (wall clock), stats (keepalived's
  ``vrrp_stats`` names, ``daemon.dump``), errors (the router's drop counters
  by kind); ``service``: unknown_vrid, too_short.
- checker: ``virtual_servers``: name, quorum_up, real_servers (address, port,
  alive, weight configured, weight in IPVS or null, drained); ``stats``.
- BFD: ``sessions``: name, neighbor, state, remote_state, local/remote
  discriminators, flaps (Up -> down), up_transitions, packets sent / received
  (those the Cython loop handled are counted by it, not here); ``events``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from ipaddress import ip_address
from typing import TYPE_CHECKING, Any

from pykad.daemon import dump
from pykad.daemon.control import Reply, dispatch, error

if TYPE_CHECKING:
    from pykad.daemon.bfd_service import BfdService
    from pykad.daemon.check_service import CheckService
    from pykad.daemon.control import Handler
    from pykad.daemon.vrrp_service import VrrpService


# --------------------------------------------------------------------------- VRRP


def vrrp_status(service: VrrpService, started: float) -> Reply:
    snaps = {s.name: s for s in dump.snapshot(service, transitions={}, started=started)}
    out = []
    for inst in service.instances:
        s = snaps[inst.name]
        r = inst.router
        master = r.master_address if r.state.value == "BACKUP" else None
        out.append(
            {
                "name": inst.name,
                "state": s.state,
                "vrid": s.vrid,
                "interface": s.interface,
                "priority": s.base_priority,
                "effective_priority": s.effective_priority,
                "demoted": inst.name in service.demoted,
                "vips": [str(a.address) for a in inst.conf.virtual_ipaddresses],
                "master": str(ip_address(master)) if master else None,
                "transitions": inst.transitions,
                "last_transition": inst.last_transition or started,
                "stats": dataclasses.asdict(s.stats),
                "errors": dict(r.statistics().dropped),
            }
        )
    return {
        "ok": True,
        "instances": out,
        "service": {"unknown_vrid": service.unknown_vrid, "too_short": service.too_short},
    }


def _instance_name(req: Mapping[str, Any]) -> str | None:
    name = req.get("instance")
    return name if isinstance(name, str) and name else None


def vrrp_handler(service: VrrpService, started: float) -> Handler:
    def status(req: Mapping[str, Any]) -> Reply:
        return vrrp_status(service, started)

    def demote(req: Mapping[str, Any]) -> Reply:
        name = _instance_name(req)
        if name is None:
            return error("demote: which instance?")
        done, text = service.demote(name)
        return {"ok": True, "done": text} if done else error(text)

    def promote(req: Mapping[str, Any]) -> Reply:
        name = _instance_name(req)
        if name is None:
            return error("promote: which instance?")
        done, text = service.promote(name)
        return {"ok": True, "done": text} if done else error(text)

    return dispatch({"status": status, "stats": status, "demote": demote, "promote": promote})


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
    }


def check_handler(service: CheckService) -> Handler:
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
