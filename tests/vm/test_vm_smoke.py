"""Smoke test of the IPVS VM lab: ipvsadm and NAT forwarding in the guest.

(pytest in the guest is checked by tests/vm/guest/test_ipvs_socket.py, run through
the same harness by tests/vm/test_ipvs_kernel.py.)

Guest topology of the NAT test (all inside one throw-away VM, in one boot):

    netns client  c0 198.51.100.2/24 --veth-- d0 198.51.100.1/24 + VIP 198.51.100.100/32
                                              director = the guest's root namespace
    netns rs      eth0 203.0.113.2/24 --veth-- d1 203.0.113.1/24

The real server is busybox ``nc`` answering every connection with one line carrying a
per-run token; the client reaches it only through the IPVS service VIP:80 -> rs:8080 (-m).
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from lab.need import need_program
from lab.vm import need_vm, run_in_vm

pytestmark = [pytest.mark.vm, pytest.mark.slow]

CONNECTIONS = 3

GUEST_NAT = r"""
set -euo pipefail
T0=${EPOCHREALTIME/./}
mark() {
    local d=$(( ${EPOCHREALTIME/./} - T0 ))
    printf 'MARK %d.%03ds %s\n' $((d / 1000000)) $((d % 1000000 / 1000)) "$*"
}
section() { echo "=== $*"; }
BB=/run/ipvs-vm/busybox          # static: no dynamic exec over 9p per start
VIP=198.51.100.100 VPORT=80 RS=203.0.113.2 RPORT=8080 N=$SMOKE_CONNECTIONS

sysctl -qw net.ipv4.ip_forward=1
ip netns add client
ip link add c0 type veth peer name d0
ip link set c0 netns client
ip addr add 198.51.100.1/24 dev d0; ip addr add $VIP/32 dev d0; ip link set d0 up
ip -n client link set lo up; ip -n client addr add 198.51.100.2/24 dev c0
ip -n client link set c0 up; ip -n client route add default via 198.51.100.1
ip netns add rs
ip link add eth0 netns rs type veth peer name d1
ip addr add 203.0.113.1/24 dev d1; ip link set d1 up
ip -n rs link set lo up; ip -n rs addr add $RS/24 dev eth0
ip -n rs link set eth0 up; ip -n rs route add default via 203.0.113.1   # NAT: replies via us
ip netns exec rs $BB nc -ll -p $RPORT -e $BB echo "real-server-says $SMOKE_TOKEN" \
    </dev/null >/dev/null 2>&1 &
up=
for _ in $($BB seq 100); do    # direct probe director -> rs (not through IPVS)
    if (exec 3<>/dev/tcp/$RS/$RPORT) 2>/dev/null; then up=1; break; fi
    $BB sleep 0.1
done
[ -n "$up" ] || { echo "real server never came up"; exit 1; }
mark "topology and real server up"

section before
if ip netns exec client timeout 5 bash -c "exec 3<>/dev/tcp/$VIP/$VPORT" 2>/dev/null; then
    echo "BEFORE connected"
else
    echo "BEFORE refused"
fi

ipvsadm -A -t $VIP:$VPORT -s rr
ipvsadm -a -t $VIP:$VPORT -r $RS:$RPORT -m -w 1
mark "service added"

section client
ip netns exec client timeout 30 bash -c '
    for i in $(seq $3); do
        exec 3<>/dev/tcp/$1/$2
        IFS= read -r -t 5 line <&3 || line="<nothing: rc $?>"
        exec 3<&-
        echo "CLIENT $i got: $line"
    done' _ $VIP $VPORT $N
mark "client done"

section list
ipvsadm -Ln
section connections
ipvsadm -Lnc
# the counters (Conns, packets) are per-CPU, folded in by the 2 s estimator: poll
for _ in $($BB seq 30); do
    conns=$(ipvsadm -Ln --stats -t $VIP:$VPORT | $BB awk '$1 == "TCP" { print $3 }')
    [ "${conns:-0}" -ge "$N" ] && break
    $BB sleep 0.25
done
section stats
ipvsadm -Ln --stats -t $VIP:$VPORT
mark "stats seen"
"""


def _sections(out: str) -> dict[str, str]:
    parts = re.split(r"^=== (\w+)\n", out, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_ipvs_nat_forwards_a_tcp_connection(tmp_path: Path) -> None:
    need_vm()
    need_program("ipvsadm")
    token = secrets.token_hex(8)
    script = tmp_path / "guest-nat.sh"
    script.write_text(GUEST_NAT)

    result = run_in_vm(
        ["bash", str(script)],
        cwd=tmp_path,
        timeout=180,
        env={"SMOKE_TOKEN": token, "SMOKE_CONNECTIONS": str(CONNECTIONS)},
    )
    print(result.stdout, result.stderr, sep="\n--- stderr\n")
    assert result.returncode == 0, result.stdout + result.stderr
    out = _sections(result.stdout)

    assert "BEFORE refused" in out["before"]  # nothing answers on the VIP without IPVS
    for i in range(1, CONNECTIONS + 1):
        assert f"CLIENT {i} got: real-server-says {token}\n" in out["client"]

    assert "IP Virtual Server version" in out["list"]
    assert re.search(r"^TCP\s+198\.51\.100\.100:80 rr\s*$", out["list"], re.M), out["list"]
    dest = re.search(r"->\s+203\.0\.113\.2:8080\s+Masq\s+1\s+(\d+)\s+(\d+)", out["list"])
    assert dest, out["list"]
    assert int(dest[1]) + int(dest[2]) == CONNECTIONS  # ActiveConn + InActConn

    conns = re.findall(
        r"^TCP\s+\S+\s+\S+\s+198\.51\.100\.2:\d+\s+198\.51\.100\.100:80\s+203\.0\.113\.2:8080",
        out["connections"],
        re.M,
    )
    assert len(conns) == CONNECTIONS, out["connections"]

    stats = re.search(r"^TCP\s+198\.51\.100\.100:80\s+(\d+)\s+(\d+)\s+(\d+)", out["stats"], re.M)
    assert stats, out["stats"]
    assert int(stats[1]) == CONNECTIONS, out["stats"]  # Conns
    assert int(stats[2]) >= 2 * CONNECTIONS and int(stats[3]) >= 2 * CONNECTIONS  # In/OutPkts
