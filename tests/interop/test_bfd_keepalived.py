"""BFD against the real keepalived 2.2.7: sessions come up, and each side sees the other fail.

pykad (node A) and keepalived (node B) each run one ``bfd_instance`` to the
other, at 10 ms x 3 and at 300 ms x 3, with pykad active and with pykad passive.
The session must come Up on both; when A stops hearing B (nftables drops B's
packets at A) A must go Down by "Control Detection Time Expired" and tell B,
which goes Down by "Neighbor Signaled Session Down"; when the drop is lifted both
come Up again; and when keepalived dies, pykad goes Down again.  (A passive
pykad falls silent when it goes Down, so B then finds out by its own timer.)
"""

from __future__ import annotations

import pytest

from lab.keepalived import PYKAD, KeepalivedLab
from lab.netns import Topology

pytestmark = pytest.mark.interop

UP = r"\(b1\) Entering Up state"
EXPIRED = r"\(b1\) Entering Down state \(Local diagnostic - Control Detection Time Expired"
SIGNALED = r"\(b1\) Entering Down state \(Local diagnostic - Neighbor Signaled Session Down"
DROP_B = """
table inet lab {
    chain in { type filter hook input priority -300; ip saddr 192.0.2.2 udp dport 3784 drop; }
}
"""


def bfd_config(neighbor: str, source: str, interval_ms: int, *, passive: bool = False) -> str:
    return (
        "bfd_instance b1 {\n"
        f"    neighbor_ip {neighbor}\n    source_ip {source}\n"
        f"    min_rx {interval_ms}\n    min_tx {interval_ms}\n    multiplier 3\n"
        + ("    passive\n" if passive else "")
        + "}\n"
    )


@pytest.mark.parametrize("pykad_passive", [False, True], ids=["active", "passive"])
@pytest.mark.parametrize("interval_ms", [10, 300])
def test_bfd_session_with_keepalived(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, interval_ms: int, pykad_passive: bool
) -> None:
    netns_lab.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24"})
    a_conf = bfd_config("192.0.2.2", "192.0.2.1", interval_ms, passive=pykad_passive)
    pykad = keepalived_lab.start((netns_lab, "A"), a_conf, name="A", program=(PYKAD,))
    b_conf = bfd_config("192.0.2.1", "192.0.2.2", interval_ms)
    keepalived = keepalived_lab.start((netns_lab, "B"), b_conf, name="B")
    pykad.wait_for_log(UP, timeout=10)
    keepalived.wait_for_log(UP, timeout=10)

    # A stops hearing B: A's Detection Time expires, and B hears A's Down.
    since_a, since_b = len(pykad.log_text()), len(keepalived.log_text())
    netns_lab.nft("A", DROP_B)
    pykad.wait_for_log(EXPIRED, timeout=5, since=since_a)
    # A passive session that lost its peer's discriminator falls silent (RFC 5880 6.8.7):
    # then B's own Detection Time tells it.
    keepalived.wait_for_log(EXPIRED if pykad_passive else SIGNALED, timeout=5, since=since_b)

    since_a, since_b = len(pykad.log_text()), len(keepalived.log_text())
    netns_lab.nft("A", "delete table inet lab")
    pykad.wait_for_log(UP, timeout=10, since=since_a)
    keepalived.wait_for_log(UP, timeout=10, since=since_b)

    since_a = len(pykad.log_text())
    keepalived.kill()
    pykad.wait_for_log(EXPIRED, timeout=5, since=since_a)
