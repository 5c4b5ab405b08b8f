"""The NAT topology of the IPVS VM lab's load-balancing tests and demo (bash, run in the guest).

The guest's root namespace is the director (where pykad runs):

    netns client  c0 198.51.100.2/24 --veth-- d0 198.51.100.1/24 + VIP 198.51.100.100/32
    netns NAME_i  eth0 203.0.113.(16i+2)/28 --veth-- d(i+1) 203.0.113.(16i+1)/28

Each real server's default route goes through the director (NAT), and its web root
``$WWW/NAME/index.html`` says ``hello from NAME``.
"""

from __future__ import annotations

from collections.abc import Sequence


def nat_topology(names: Sequence[str]) -> str:
    """The bash that builds the client and the real servers ``names`` (``$WWW`` set)."""
    return (
        r"""
set -eu
sysctl -qw net.ipv4.ip_forward=1
sysctl -qw net.ipv4.vs.conntrack=0 2>/dev/null || true
ip netns add client
ip link add c0 type veth peer name d0
ip link set c0 netns client
ip addr add 198.51.100.1/24 dev d0; ip addr add 198.51.100.100/32 dev d0; ip link set d0 up
ip -n client link set lo up; ip -n client addr add 198.51.100.2/24 dev c0
ip -n client link set c0 up; ip -n client route add default via 198.51.100.1
i=1
for r in """
        + " ".join(names)
        + r"""; do
    base=$(( (i - 1) * 16 ))
    ip netns add $r
    ip link add eth0 netns $r type veth peer name d$i
    ip addr add 203.0.113.$((base + 1))/28 dev d$i; ip link set d$i up
    ip -n $r link set lo up; ip -n $r addr add 203.0.113.$((base + 2))/28 dev eth0
    ip -n $r link set eth0 up; ip -n $r route add default via 203.0.113.$((base + 1))
    mkdir -p "$WWW/$r"; echo "hello from $r" > "$WWW/$r/index.html"
    i=$((i + 1))
done
"""
    )
