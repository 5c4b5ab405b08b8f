"""The Prometheus endpoint: a small child that asks the other children at each scrape.

Owns pykad's metrics: their names, labels and meaning (:func:`families`, pure:
the children's ``status`` replies in, metric families out) and the process
that serves them (:func:`start`, forked by the supervising parent when
``pykad_metrics_address`` in ``global_defs`` or ``--metrics-address`` names an
address; off by default).  At each scrape it asks the VRRP, checker and BFD
children's control sockets (``daemon.control``, one short request each, from
the HTTP server's thread) and renders what they say with prometheus-client.
The VRRP and BFD loops do nothing for metrics between scrapes, and a scrape
costs them one status reply.  A child that does not answer has
``pykad_child_up{child=...} 0`` and no other series.

Metrics (labels in braces):

- ``pykad_child_up{child}``
- ``pykad_vrrp_instance_state{instance}`` (0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT),
  ``pykad_vrrp_instance_priority{instance}``,
  ``pykad_vrrp_instance_effective_priority{instance}``,
  ``pykad_vrrp_instance_demoted{instance}``
- counters ``pykad_vrrp_transitions_total``, ``pykad_vrrp_adverts_sent_total``,
  ``pykad_vrrp_adverts_received_total``, ``pykad_vrrp_priority_zero_sent_total``,
  ``pykad_vrrp_priority_zero_received_total``, ``pykad_vrrp_become_master_total``,
  ``pykad_vrrp_release_master_total`` (``{instance}``), and
  ``pykad_vrrp_errors_total{instance,kind}`` (keepalived's error counters and the
  router's drop reasons), ``pykad_vrrp_gratuitous_sent_total{interface}`` and
  ``pykad_vrrp_gratuitous_errors_total{interface}`` (GARPs / unsolicited NAs)
- ``pykad_bfd_session_state{session,neighbor}`` (0 AdminDown, 1 Down, 2 Init, 3 Up),
  ``pykad_bfd_session_flaps_total{session,neighbor}``
- ``pykad_real_server_up{virtual_server,address,port}``,
  ``pykad_real_server_weight{...}`` (the pool's), ``pykad_real_server_ipvs_weight{...}``
  (what IPVS holds; absent when not in IPVS), ``pykad_real_server_drained{...}``
- ``pykad_checker_attempts_total``, ``pykad_checker_failures_total``,
  ``pykad_ipvs_writes_total``, ``pykad_ipvs_write_errors_total``
- ``pykad_checker_latency_seconds{checker}``: a histogram of attempt durations by
  checker kind, for the checkers run as trio tasks (the compiled bulk loop that
  runs TCP_CHECK and plain HTTP_GET does not time its attempts)
- the kernel's IPVS counters of each service pykad owns:
  ``pykad_ipvs_service_connections_total{service}``,
  ``pykad_ipvs_service_packets_total{service,direction}``,
  ``pykad_ipvs_service_bytes_total{service,direction}`` (direction ``in``/``out``)
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import signal
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from pykad.daemon import control

log = logging.getLogger("pykad")

STOP_TIMEOUT_S = 5.0
STATE_VALUES = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3}
BFD_STATE_VALUES = {"ADMIN_DOWN": 0, "DOWN": 1, "INIT": 2, "UP": 3}
SCRAPE_TIMEOUT_S = 2.0

_VRRP_COUNTERS = (
    ("transitions", "State changes of the instance", None),
    ("adverts_sent", "Adverts sent", "advert_sent"),
    ("adverts_received", "Adverts received", "advert_rcvd"),
    ("priority_zero_sent", "Priority 0 adverts sent", "pri_zero_sent"),
    ("priority_zero_received", "Priority 0 adverts received", "pri_zero_rcvd"),
    ("become_master", "Times the instance became MASTER", "become_master"),
    ("release_master", "Times the instance left MASTER", "release_master"),
)
_VRRP_ERRORS = (
    "packet_len_err",
    "advert_interval_err",
    "ip_ttl_err",
    "invalid_type_rcvd",
    "addr_list_err",
    "invalid_authtype",
    "authtype_mismatch",
    "auth_failure",
)


def _vrrp(reply: Mapping[str, Any]) -> Iterator[Metric]:
    inst_labels = ["instance"]
    state = GaugeMetricFamily(
        "pykad_vrrp_instance_state",
        "VRRP state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT",
        labels=inst_labels,
    )
    prio = GaugeMetricFamily(
        "pykad_vrrp_instance_priority", "Configured priority", labels=inst_labels
    )
    eff = GaugeMetricFamily(
        "pykad_vrrp_instance_effective_priority",
        "Effective priority (tracking, demotion)",
        labels=inst_labels,
    )
    demoted = GaugeMetricFamily(
        "pykad_vrrp_instance_demoted", "1 if demoted at run time", labels=inst_labels
    )
    counters = {
        name: CounterMetricFamily(f"pykad_vrrp_{name}", text, labels=inst_labels)
        for name, text, _ in _VRRP_COUNTERS
    }
    errors = CounterMetricFamily(
        "pykad_vrrp_errors", "Received adverts dropped, by kind", labels=["instance", "kind"]
    )
    for inst in reply.get("instances", ()):
        name = [inst["name"]]
        state.add_metric(name, STATE_VALUES.get(inst["state"], 0))
        prio.add_metric(name, inst["priority"])
        eff.add_metric(name, inst["effective_priority"])
        demoted.add_metric(name, int(bool(inst.get("demoted"))))
        stats = inst.get("stats", {})
        for key, _, stat in _VRRP_COUNTERS:
            value = inst.get("transitions", 0) if stat is None else stats.get(stat, 0)
            counters[key].add_metric(name, value)
        kinds: dict[str, int] = {k: stats.get(k, 0) for k in _VRRP_ERRORS}
        for kind, n in inst.get("errors", {}).items():
            kinds.setdefault(kind, n)
        for kind, n in sorted(kinds.items()):
            errors.add_metric([inst["name"], kind], n)
    yield from (state, prio, eff, demoted, *counters.values(), errors)
    sent = CounterMetricFamily(
        "pykad_vrrp_gratuitous_sent",
        "Gratuitous ARPs and unsolicited NAs sent",
        labels=["interface"],
    )
    failed = CounterMetricFamily(
        "pykad_vrrp_gratuitous_errors",
        "Gratuitous ARPs and unsolicited NAs that could not be sent",
        labels=["interface"],
    )
    for g in reply.get("service", {}).get("gratuitous", ()):
        sent.add_metric([g["interface"]], g["sent"])
        failed.add_metric([g["interface"]], g["errors"])
    yield from (sent, failed)


def _bfd(reply: Mapping[str, Any]) -> Iterator[Metric]:
    labels = ["session", "neighbor"]
    state = GaugeMetricFamily(
        "pykad_bfd_session_state", "BFD state: 0 AdminDown, 1 Down, 2 Init, 3 Up", labels=labels
    )
    flaps = CounterMetricFamily(
        "pykad_bfd_session_flaps", "Times the session left Up", labels=labels
    )
    for s in reply.get("sessions", ()):
        session = [s["name"], s["neighbor"]]
        state.add_metric(session, BFD_STATE_VALUES.get(s["state"], 1))
        flaps.add_metric(session, s.get("flaps", 0))
    yield from (state, flaps)


def _check(reply: Mapping[str, Any]) -> Iterator[Metric]:
    labels = ["virtual_server", "address", "port"]
    up = GaugeMetricFamily("pykad_real_server_up", "1 if the real server is healthy", labels=labels)
    weight = GaugeMetricFamily(
        "pykad_real_server_weight", "The real server's weight in its pool", labels=labels
    )
    ipvs = GaugeMetricFamily(
        "pykad_real_server_ipvs_weight", "The real server's weight in IPVS", labels=labels
    )
    drained = GaugeMetricFamily(
        "pykad_real_server_drained", "1 if drained at run time", labels=labels
    )
    for vs in reply.get("virtual_servers", ()):
        for rs in vs.get("real_servers", ()):
            server = [vs["name"], rs["address"], str(rs["port"])]
            up.add_metric(server, int(bool(rs["alive"])))
            weight.add_metric(server, rs["weight"])
            if rs.get("ipvs_weight") is not None:
                ipvs.add_metric(server, rs["ipvs_weight"])
            drained.add_metric(server, int(bool(rs.get("drained"))))
    stats = reply.get("stats", {})
    yield from (up, weight, ipvs, drained)
    conns = CounterMetricFamily(
        "pykad_ipvs_service_connections", "Connections IPVS scheduled", labels=["service"]
    )
    packets = CounterMetricFamily(
        "pykad_ipvs_service_packets", "Packets through the service", labels=["service", "direction"]
    )
    octets = CounterMetricFamily(
        "pykad_ipvs_service_bytes", "Bytes through the service", labels=["service", "direction"]
    )
    for svc in reply.get("ipvs", ()):
        name = svc["service"]
        conns.add_metric([name], svc["connections"])
        packets.add_metric([name, "in"], svc["packets_in"])
        packets.add_metric([name, "out"], svc["packets_out"])
        octets.add_metric([name, "in"], svc["bytes_in"])
        octets.add_metric([name, "out"], svc["bytes_out"])
    yield from (conns, packets, octets)
    latency = HistogramMetricFamily(
        "pykad_checker_latency_seconds",
        "Duration of health-check attempts run as tasks (not the bulk TCP/HTTP loop's)",
        labels=["checker"],
    )
    for kind, h in reply.get("latency", {}).items():
        buckets = [(str(le) if le == "+Inf" else repr(float(le)), n) for le, n in h["buckets"]]
        latency.add_metric([kind], buckets, sum_value=h["sum"])
    yield latency
    for name, key, text in (
        ("pykad_checker_attempts", "attempts", "Checker attempts"),
        ("pykad_checker_failures", "failures", "Checker attempts that failed"),
        ("pykad_ipvs_writes", "writes", "IPVS operations written"),
        ("pykad_ipvs_write_errors", "write_errors", "IPVS operations that failed"),
    ):
        yield CounterMetricFamily(name, text, value=stats.get(key, 0))


def families(replies: Mapping[str, Mapping[str, Any] | None]) -> list[Metric]:
    """The metric families for the children's ``status`` replies (None: no answer)."""
    up = GaugeMetricFamily(
        "pykad_child_up", "1 if the child answered on its control socket", labels=["child"]
    )
    out: list[Metric] = [up]
    for child, reply in replies.items():
        ok = reply is not None and bool(reply.get("ok"))
        up.add_metric([child], int(ok))
        if not ok or reply is None:
            continue
        if child == "vrrp":
            out += _vrrp(reply)
        elif child == "check":
            out += _check(reply)
        elif child == "bfd":
            out += _bfd(reply)
    return out


class ChildrenCollector(Collector):
    """Asks each child that runs for its status at every scrape: those of ``children``
    (the ones the daemon may start) that have made their control socket (a reload may
    start one later); one whose socket does not answer is down."""

    def __init__(self, directory: str, children: Iterable[str]) -> None:
        self.directory = directory
        self.children = tuple(children)

    def collect(self) -> Iterable[Metric]:
        replies: dict[str, Mapping[str, Any] | None] = {}
        for child in self.children:
            if not os.path.exists(control.socket_path(self.directory, child)):
                continue  # not started (yet)
            try:
                replies[child] = control.request(
                    control.socket_path(self.directory, child),
                    {"cmd": "status"},
                    timeout=SCRAPE_TIMEOUT_S,
                )
            except control.ControlError:
                replies[child] = None
        return families(replies)


def registry(directory: str, children: Iterable[str]) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(ChildrenCollector(directory, children))
    return reg


def start(
    address: tuple[str, int],
    directory: str,
    children: Iterable[str],
    pid_file: str,
    listener: logging.handlers.QueueListener,
    ident_suffix: str = "",
) -> int:
    """Fork the metrics child (from the parent); its pid."""
    from pykad.daemon.child import fork_child

    wanted = tuple(children)
    return fork_child(
        "Metrics",
        "pykad_metrics",
        pid_file,
        listener,
        lambda: _serve(address, directory, wanted),
        ident_suffix=ident_suffix,
    )


def _serve(address: tuple[str, int], directory: str, children: tuple[str, ...]) -> int:
    from prometheus_client import start_http_server

    from pykad.daemon.process import DAEMON_SIGNALS, STOP_SIGNALS, take_held_signals

    signal.pthread_sigmask(signal.SIG_BLOCK, DAEMON_SIGNALS)  # the HTTP thread inherits it
    if any(n in STOP_SIGNALS for n in take_held_signals()):
        return 0
    host, port = address
    try:
        server, thread = start_http_server(port, addr=host, registry=registry(directory, children))
    except OSError as e:
        log.error("metrics: cannot listen on %s port %d: %s", host, port, e)
        return 1  # respawned at keepalived's pace; VRRP and the checkers run on
    log.info("Metrics on http://%s:%d/metrics (pid %d)", host, port, os.getpid())
    try:
        while signal.sigwait(DAEMON_SIGNALS) not in STOP_SIGNALS:
            pass
    finally:
        server.shutdown()
        thread.join(timeout=1.0)
    return 0
