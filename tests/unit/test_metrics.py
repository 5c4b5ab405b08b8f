"""The Prometheus text pykad serves, from the children's status replies (pure)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry
from unit.test_ctl import MERGED

from pykad.daemon import metrics


class Fixed(Collector):
    def __init__(self, replies: dict[str, object]) -> None:
        self.replies = replies

    def collect(self):  # type: ignore[no-untyped-def]
        return metrics.families(self.replies)  # type: ignore[arg-type]


def render(replies: dict[str, object]) -> list[str]:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(Fixed(replies))
    return [line for line in generate_latest(reg).decode().splitlines() if line[:1] != "#"]


def test_metrics_from_every_child() -> None:
    lines = render({**MERGED})
    for expected in (
        'pykad_child_up{child="vrrp"} 1.0',
        'pykad_child_up{child="bfd"} 1.0',
        'pykad_child_up{child="check"} 1.0',
        'pykad_vrrp_instance_state{instance="VI_1"} 1.0',
        'pykad_vrrp_instance_priority{instance="VI_1"} 150.0',
        'pykad_vrrp_instance_effective_priority{instance="VI_1"} 1.0',
        'pykad_vrrp_instance_demoted{instance="VI_1"} 1.0',
        'pykad_vrrp_transitions_total{instance="VI_1"} 3.0',
        'pykad_vrrp_adverts_sent_total{instance="VI_1"} 42.0',
        'pykad_vrrp_adverts_received_total{instance="VI_1"} 7.0',
        'pykad_vrrp_errors_total{instance="VI_1",kind="wrong auth"} 2.0',
        'pykad_vrrp_errors_total{instance="VI_1",kind="auth_failure"} 0.0',
        'pykad_vrrp_gratuitous_sent_total{interface="eth0"} 10.0',
        'pykad_vrrp_gratuitous_errors_total{interface="eth0"} 2.0',
        'pykad_bfd_session_state{neighbor="192.0.2.2",session="to_b"} 3.0',
        'pykad_bfd_session_flaps_total{neighbor="192.0.2.2",session="to_b"} 2.0',
        'pykad_real_server_up{address="203.0.113.1",port="80",virtual_server="TCP 192.0.2.100 80"}'
        " 1.0",
        'pykad_real_server_up{address="2001:db8::1",port="80",virtual_server="TCP 192.0.2.100 80"}'
        " 0.0",
        'pykad_real_server_weight{address="203.0.113.1",port="80",virtual_server="TCP 192.0.2.100'
        ' 80"} 3.0',
        'pykad_real_server_ipvs_weight{address="203.0.113.1",port="80",virtual_server="TCP'
        ' 192.0.2.100 80"} 0.0',
        'pykad_real_server_drained{address="203.0.113.1",port="80",virtual_server="TCP 192.0.2.100'
        ' 80"} 1.0',
        "pykad_checker_attempts_total 12.0",
        "pykad_checker_failures_total 1.0",
        'pykad_ipvs_service_connections_total{service="TCP 192.0.2.100:80"} 5.0',
        'pykad_checker_latency_seconds_bucket{checker="HTTP_GET",le="0.01"} 0.0',
        'pykad_checker_latency_seconds_bucket{checker="HTTP_GET",le="0.025"} 1.0',
        'pykad_checker_latency_seconds_bucket{checker="HTTP_GET",le="0.05"} 2.0',
        'pykad_checker_latency_seconds_bucket{checker="HTTP_GET",le="+Inf"} 2.0',
        'pykad_checker_latency_seconds_count{checker="HTTP_GET"} 2.0',
        'pykad_ipvs_service_packets_total{direction="in",service="TCP 192.0.2.100:80"} 50.0',
        'pykad_ipvs_service_bytes_total{direction="out",service="TCP 192.0.2.100:80"} 90000.0',
    ):
        assert expected in lines, expected
    # not in IPVS: no ipvs_weight series for it
    assert not any(ln.startswith('pykad_real_server_ipvs_weight{address="2001') for ln in lines)


def test_a_child_that_does_not_answer_is_down_and_has_no_series() -> None:
    lines = render({"vrrp": None, "check": {"ok": False, "error": "x"}})
    assert 'pykad_child_up{child="vrrp"} 0.0' in lines
    assert 'pykad_child_up{child="check"} 0.0' in lines
    assert not any(ln.startswith(("pykad_vrrp", "pykad_real", "pykad_checker")) for ln in lines)


def test_only_children_with_a_control_socket_are_asked(tmp_path: Path) -> None:
    """A child the daemon may start but has not (no socket yet) is not reported; one
    whose socket does not answer is down."""
    (tmp_path / "check.sock").touch()  # a stale socket file: nobody listens
    reg = CollectorRegistry(auto_describe=False)
    reg.register(metrics.ChildrenCollector(str(tmp_path), ("vrrp", "check", "bfd")))
    lines = [ln for ln in generate_latest(reg).decode().splitlines() if ln[:1] != "#"]
    assert [ln for ln in lines if ln.startswith("pykad_child_up")] == [
        'pykad_child_up{child="check"} 0.0'
    ]
