"""Two routers A and B of the netns lab with a BFD session to each other: their
``bfd_instance`` blocks and the nftables rule that breaks the session from B's side.
Used by the daemon tests that need a BFD session without a real BFD peer."""

from __future__ import annotations

ADDRESS = {"A": "192.0.2.1", "B": "192.0.2.2"}

DROP_BFD_FROM_B = """
table inet lab {
    chain in { type filter hook input priority -300; ip saddr 192.0.2.2 udp dport 3784 drop; }
}
"""
"""For A's namespace: B's BFD packets dropped, so A's session goes Down."""


def bfd_to(peer: str, node: str, interval_ms: int) -> str:
    """``node``'s ``bfd_instance to_<peer>``, ``interval_ms`` x 3."""
    return (
        f"bfd_instance to_{peer.lower()} {{\n"
        f"    neighbor_ip {ADDRESS[peer]}\n    source_ip {ADDRESS[node]}\n"
        f"    min_rx {interval_ms}\n    min_tx {interval_ms}\n    multiplier 3\n}}\n"
    )
