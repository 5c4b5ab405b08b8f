"""BFD against FRR's bfdd and BIRD: pykad's sessions come up, and each side sees the other fail.

pykad (node A) runs a ``bfd_instance`` to bfdd or BIRD (node B) at 10 ms x 3 and
300 ms x 3, once active with a passive peer (so pykad must speak first) and once
passive with an active peer.  The session must come Up on both sides with the
configured timers; when B stops hearing A (nftables) B goes Down and tells A
(pykad logs "Neighbor Signaled Session Down"; a passive BIRD falls silent
instead); when the drop is lifted both come Up again; and when B stops, pykad's
Detection Time expires.  A last test runs a multihop session (RFC 5883, UDP 4784)
with bfdd.
"""

from __future__ import annotations

import pytest

from lab import bfd_peers
from lab.bfd_peers import (
    Bfdd,
    BfdDaemon,
    BfdPeer,
    BfdPeersLab,
    keepalived_bfd_instance,
    negotiated_timers,
)
from lab.keepalived import PYKAD, KeepalivedLab
from lab.netns import Topology, wait_for

pytestmark = pytest.mark.interop
bfd_peers_lab = bfd_peers.bfd_peers_lab

PYKAD_ADDRESS, PEER = "192.0.2.1", "192.0.2.2"
UP = r"\(BFD1\) Entering Up state"
SIGNALED = r"\(BFD1\) Entering Down state \(Local diagnostic - Neighbor Signaled Session Down"
EXPIRED = r"\(BFD1\) Entering Down state \(Local diagnostic - Control Detection Time Expired"
DROP_PYKAD = f"""
table inet lab {{
    chain in {{ type filter hook input priority -300; ip saddr {PYKAD_ADDRESS} drop; }}
}}
"""


def _start_peer(lab: BfdPeersLab, kind: str, topo: Topology, peer: BfdPeer) -> BfdDaemon:
    if kind == "bfdd":
        return lab.bfdd((topo, "B"), peer)
    return lab.bird((topo, "B"), peer)


@pytest.mark.parametrize("pykad_passive", [False, True], ids=["active", "passive"])
@pytest.mark.parametrize("interval_ms", [10, 300])
@pytest.mark.parametrize("kind", ["bfdd", "bird"])
def test_pykad_session_with_peer(
    netns_lab: Topology,
    keepalived_lab: KeepalivedLab,
    bfd_peers_lab: BfdPeersLab,
    kind: str,
    interval_ms: int,
    pykad_passive: bool,
) -> None:
    netns_lab.lan({"A": f"{PYKAD_ADDRESS}/24", "B": f"{PEER}/24"})
    peer = BfdPeer(PYKAD_ADDRESS, PEER, interval_ms, interval_ms, 3, passive=not pykad_passive)
    daemon = _start_peer(bfd_peers_lab, kind, netns_lab, peer)
    config = keepalived_bfd_instance("BFD1", peer.mirror(passive=pykad_passive))
    pykad = keepalived_lab.start((netns_lab, "A"), config, name="A", program=(PYKAD,))
    daemon.wait_for_state(PYKAD_ADDRESS, "Up", timeout=10)
    pykad.wait_for_log(UP, timeout=5)
    # A Poll Sequence moves both sides from the 1 s idle rate to the configured timers.
    wait_for(
        lambda: negotiated_timers(daemon, PYKAD_ADDRESS) == (interval_ms, 3 * interval_ms),
        timeout=3,
        message=lambda: f"{interval_ms} ms timers: {negotiated_timers(daemon, PYKAD_ADDRESS)}",
    )

    detect_s = 3 * interval_ms / 1000
    mark = pykad.log_mark()
    netns_lab.nft("B", DROP_PYKAD)
    daemon.wait_for_state(PYKAD_ADDRESS, "Down", timeout=detect_s + 2)
    # A passive BIRD that lost its peer falls silent (RFC 5880 6.8.7): pykad's timer
    # tells it then.  bfdd, even passive, sends its Down.
    told = EXPIRED if kind == "bird" and not pykad_passive else SIGNALED
    pykad.wait_for_log(told, timeout=detect_s + 2, since=mark)

    mark = pykad.log_mark()
    netns_lab.run("B", "nft", "delete", "table", "inet", "lab")
    daemon.wait_for_state(PYKAD_ADDRESS, "Up", timeout=10)
    pykad.wait_for_log(UP, timeout=5, since=mark)

    mark = pykad.log_mark()
    daemon.stop()
    pykad.wait_for_log(EXPIRED, timeout=detect_s + 2, since=mark)


def test_pykad_multihop_session_with_bfdd(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, bfd_peers_lab: BfdPeersLab
) -> None:
    netns_lab.lan({"A": f"{PYKAD_ADDRESS}/24", "B": f"{PEER}/24"})
    peer = BfdPeer(PYKAD_ADDRESS, PEER, 10, 10, 3, multihop=True)
    daemon = bfd_peers_lab.bfdd((netns_lab, "B"), peer)
    assert isinstance(daemon, Bfdd)
    config = (
        "bfd_instance BFD1 {\n"
        f"    neighbor_ip {PEER}\n    source_ip {PYKAD_ADDRESS}\n"
        "    min_rx 10\n    min_tx 10\n    multiplier 3\n    multihop\n    max_hops 10\n}\n"
    )
    pykad = keepalived_lab.start((netns_lab, "A"), config, name="A", program=(PYKAD,))
    daemon.wait_for_state(PYKAD_ADDRESS, "Up", timeout=10)
    pykad.wait_for_log(UP, timeout=5)
    assert daemon.session_info(PYKAD_ADDRESS)["multihop"] is True
    mark = pykad.log_mark()
    daemon.stop()
    pykad.wait_for_log(EXPIRED, timeout=3, since=mark)


@pytest.mark.parametrize(
    "auth_type",
    ["simple_password", "keyed_md5", "meticulous_keyed_md5", "keyed_sha1", "meticulous_keyed_sha1"],
)
def test_pykad_authenticated_session_with_bird(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, bfd_peers_lab: BfdPeersLab, auth_type: str
) -> None:
    """RFC 5880 authentication, a pykad extension: each type comes Up with BIRD, and a
    wrong secret never does."""
    netns_lab.lan({"A": f"{PYKAD_ADDRESS}/24", "B": f"{PEER}/24", "C": "192.0.2.3/24"})
    peer = BfdPeer(PYKAD_ADDRESS, PEER, 10, 10, 3, auth=(auth_type, 7, "s3cret"))
    wrong = BfdPeer(PYKAD_ADDRESS, "192.0.2.3", 10, 10, 3, auth=(auth_type, 7, "other"))
    daemon = bfd_peers_lab.bird((netns_lab, "B"), peer)
    liar = bfd_peers_lab.bird((netns_lab, "C"), wrong)
    config = keepalived_bfd_instance("BFD1", peer.mirror()).replace(
        "}", f"    pykad_auth {auth_type} 7 s3cret\n}}"
    ) + keepalived_bfd_instance("BFD2", wrong.mirror()).replace(
        "}", f"    pykad_auth {auth_type} 7 s3cret\n}}"
    )
    pykad = keepalived_lab.start((netns_lab, "A"), config, name="A", program=(PYKAD,))
    daemon.wait_for_state(PYKAD_ADDRESS, "Up", timeout=10)
    pykad.wait_for_log(UP, timeout=5)
    wait_for(
        lambda: negotiated_timers(daemon, PYKAD_ADDRESS) == (10, 30),
        timeout=3,
        message=lambda: f"10 ms timers: {negotiated_timers(daemon, PYKAD_ADDRESS)}",
    )
    mark = pykad.log_mark()
    daemon.stop()
    pykad.wait_for_log(EXPIRED, timeout=3, since=mark)
    assert liar.state(PYKAD_ADDRESS) != "Up"
    assert "(BFD2) Entering Up state" not in pykad.log_text()
