"""VRRPv2 ``auth_type AH``: pykad's AH codec against the real keepalived 2.2.7, both ways.

keepalived (node A, the MASTER) sends AH adverts; an observer (node C) captures
them and ``verify_ah`` accepts them with the shared key while ``build_ah_packet``
with the same id, sequence number and addresses rebuilds them byte for byte. Then
node B sends pykad-built AH adverts from :class:`AhSocket` (a small script run in
B's namespace): with the right key and a higher priority keepalived goes BACKUP
without an "IPSEC-AH" complaint; with a wrong key it logs its ICV error and stays
MASTER; an old sequence number hits its replay check. Documentation addresses only.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lab.keepalived import Keepalived, KeepalivedLab, vrrp_instance_config
from lab.netns import Topology, wait_for
from pykad.tools.pcap import Frame, network_layer
from pykad.vrrp import wire
from pykad.vrrp.advert import AUTH_AH, IPPROTO_VRRP, VRRP_MCAST_V4
from pykad.vrrp.ah import (
    IPPROTO_AH,
    KEEPALIVED_LOG,
    AhError,
    AhReason,
    build_ah_packet,
    verify_ah,
)

pytestmark = pytest.mark.interop

VIP = "192.0.2.10/24"
KEEPALIVED_IP = "192.0.2.1"
PYKAD_IP = "192.0.2.2"
PASSWORD = "secret"
AH_CONFIG = f"authentication {{\n    auth_type AH\n    auth_pass {PASSWORD}\n}}"

SENDER = textwrap.dedent(
    """
    import ipaddress, socket, sys, time
    from pykad.drivers.vrrp_ah_socket import AhSocket
    from pykad.vrrp import wire
    from pykad.vrrp.advert import AUTH_AH, VRRP_MCAST_V4, Advert
    from pykad.vrrp.ah import build_ah_packet

    src, key, seq, priority, count, interval, vip = sys.argv[1:8]
    src_b = ipaddress.IPv4Address(src).packed
    payload = wire.encode(
        Advert(2, 51, int(priority), 1, (ipaddress.IPv4Address(vip).packed,), AUTH_AH, b""), 4
    )
    with AhSocket("eth0", socket.if_nametoindex("eth0")) as sock:
        for i in range(int(count)):
            packet = build_ah_packet(
                src=src_b, dst=VRRP_MCAST_V4, ip_id=i + 1, vrrp_payload=payload,
                key=key, seq=int(seq) + i,
            )
            assert sock.send(packet, VRRP_MCAST_V4), "send failed"
            time.sleep(float(interval))
    print("sent", count)
    """
)

RECEIVER = textwrap.dedent(
    """
    import select, socket, sys, time
    from pykad.drivers.vrrp_ah_socket import AhSocket

    deadline = time.monotonic() + float(sys.argv[1])
    with AhSocket("eth0", socket.if_nametoindex("eth0")) as sock:
        while (left := deadline - time.monotonic()) > 0:
            select.select([sock], [], [], left)
            for packet in sock.drain():
                print(packet.hex())
    """
)


def _ah_packets(frames: list[Frame]) -> list[bytes]:
    """The IPv4 AH packets (whole, header included) among captured Ethernet frames."""
    out = []
    for frame in frames:
        raw = network_layer(frame)
        if raw and raw[0] >> 4 == 4 and raw[9] == IPPROTO_AH:
            out.append(raw[: int.from_bytes(raw[2:4], "big")])
    return out


def _start_master(topo: Topology, lab: KeepalivedLab) -> Keepalived:
    config = vrrp_instance_config(priority=100, vips=[VIP], extra=AH_CONFIG)
    k = lab.start((topo, "A"), config, name="A", subsystems={"vrrp"})
    k.wait_for_state("VI_1", "MASTER", timeout=10)
    return k


def _python_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def _send(
    topo: Topology, tmp: Path, *, key: str, seq: int, priority: int = 200, count: int = 1
) -> None:
    script = tmp / "ah_sender.py"
    script.write_text(SENDER)
    args = [PYKAD_IP, key, str(seq), str(priority), str(count), "0.5", VIP.split("/")[0]]
    result = topo.run("B", sys.executable, script, *args, env=_python_env(), timeout=60)
    assert result.stdout.strip() == f"sent {count}", result.stderr


@pytest.fixture
def lan(netns_lab: Topology) -> Topology:
    netns_lab.lan({"A": f"{KEEPALIVED_IP}/24", "B": f"{PYKAD_IP}/24", "C": "192.0.2.100/24"})
    return netns_lab


def test_keepalived_ah_adverts_verify_and_rebuild_byte_for_byte(
    lan: Topology, keepalived_lab: KeepalivedLab
) -> None:
    capture = lan.capture("C", "eth0", f"ip proto {IPPROTO_AH}")
    _start_master(lan, keepalived_lab)
    wait_for(lambda: len(_ah_packets(capture.packets())) >= 4, timeout=10)
    packets = _ah_packets(capture.packets())
    seqs, ids = [], []
    last = 0
    for packet in packets:
        payload, seq = verify_ah(packet, PASSWORD, last)
        last = seq
        seqs.append(seq)
        ids.append(int.from_bytes(packet[4:6], "big"))
        # What keepalived puts on the wire, field by field.
        assert packet[0] == 0x45 and packet[1] == 0xC0  # no options, TOS internet control
        assert packet[6:8] == b"\0\0"  # DF clear, no fragment offset
        assert packet[8] == 255 and packet[9] == IPPROTO_AH
        assert packet[12:16] == ipaddress.IPv4Address(KEEPALIVED_IP).packed
        assert packet[16:20] == VRRP_MCAST_V4
        assert packet[20] == IPPROTO_VRRP and packet[21] == 4 and packet[22:24] == b"\0\0"
        assert packet[24:28] == packet[12:16]  # SPI = source address
        advert = wire.decode_untrusted(payload, 4, packet[12:16], packet[16:20])
        assert (advert.version, advert.vrid, advert.priority) == (2, 51, 100)
        assert advert.auth_type == AUTH_AH and advert.auth_data == bytes(8)
        assert advert.addresses == (ipaddress.IPv4Address(VIP.split("/")[0]).packed,)
        rebuilt = build_ah_packet(
            src=packet[12:16],
            dst=packet[16:20],
            ip_id=ids[-1],
            vrrp_payload=payload,
            key=PASSWORD,
            seq=seq,
        )
        assert rebuilt == packet
        with pytest.raises(AhError) as err:
            verify_ah(packet, "wrong", 0)
        assert err.value.reason is AhReason.ICV
        with pytest.raises(AhError) as err:
            verify_ah(packet, PASSWORD, seq)
        assert err.value.reason is AhReason.REPLAY
    # keepalived counts both from 1 upwards, one step per advert (its first advert
    # may come before the capture starts listening, hence no fixed start).
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert 1 <= seqs[0] <= 3


def test_ah_socket_reads_keepalived_adverts_whole(
    lan: Topology, keepalived_lab: KeepalivedLab, tmp_path: Path
) -> None:
    _start_master(lan, keepalived_lab)
    script = tmp_path / "ah_receiver.py"
    script.write_text(RECEIVER)
    result = lan.run("B", sys.executable, script, "3.5", env=_python_env(), timeout=60)
    packets = [bytes.fromhex(line) for line in result.stdout.split()]
    assert len(packets) >= 3, result.stderr
    last = 0
    for packet in packets:
        assert int.from_bytes(packet[2:4], "big") == len(packet)  # tot_len as on the wire
        payload, last = verify_ah(packet, PASSWORD, last)
        assert wire.decode_untrusted(payload, 4, packet[12:16], packet[16:20]).priority == 100


def test_keepalived_accepts_pykad_ah_adverts(
    lan: Topology, keepalived_lab: KeepalivedLab, tmp_path: Path
) -> None:
    k = _start_master(lan, keepalived_lab)
    mark = k.log_mark()
    # keepalived's counter is shared by what it sends and receives: start well above.
    _send(lan, tmp_path, key=PASSWORD, seq=1_000_000, count=3)
    k.wait_for_log(
        rf"\(VI_1\) Master received advert from {re.escape(PYKAD_IP)} with higher priority 200,"
        r" ours 100",
        since=mark,
    )
    k.wait_for_state("VI_1", "BACKUP", since=mark, timeout=5)
    assert "IPSEC" not in k.log_text()[mark:]
    assert k.state("VI_1") == "BACKUP"


def test_keepalived_refuses_pykad_ah_adverts_with_a_wrong_key(
    lan: Topology, keepalived_lab: KeepalivedLab, tmp_path: Path
) -> None:
    k = _start_master(lan, keepalived_lab)
    mark = k.log_mark()
    _send(lan, tmp_path, key="wrong", seq=1_000_000, count=2)
    expected = AhError(AhReason.ICV).log_text("VI_1")
    assert expected is not None
    k.wait_for_log(re.escape(expected), since=mark)
    time.sleep(1.5)
    log = k.log_text()[mark:]
    assert log.count(expected) == 2
    assert "higher priority" not in log
    assert k.state("VI_1") == "MASTER"


def test_keepalived_refuses_a_replayed_sequence_number(
    lan: Topology, keepalived_lab: KeepalivedLab, tmp_path: Path
) -> None:
    k = _start_master(lan, keepalived_lab)
    time.sleep(1.5)  # a few adverts sent: keepalived's counter is above 1
    mark = k.log_mark()
    _send(lan, tmp_path, key=PASSWORD, seq=1, count=1)
    template = KEEPALIVED_LOG[AhReason.REPLAY]
    assert template is not None
    pattern = re.escape(template).replace(r"\{iname\}", "VI_1")
    pattern = pattern.replace(r"\{seq\}", "1").replace(r"\{local\}", r"(\d+)")
    m = k.wait_for_log(pattern, since=mark)
    assert int(m[1]) >= 2
    assert k.state("VI_1") == "MASTER"


def test_keepalived_unicast_ah_adverts_zero_the_ttl_in_the_icv(
    lan: Topology, keepalived_lab: KeepalivedLab
) -> None:
    capture = lan.capture("C", "eth0", f"ip proto {IPPROTO_AH}")
    extra = AH_CONFIG + (
        f"\nunicast_src_ip {KEEPALIVED_IP}\nunicast_peer {{\n    {PYKAD_IP}\n    192.0.2.100\n}}"
    )
    config = vrrp_instance_config(priority=100, vips=[VIP], extra=extra)
    k = keepalived_lab.start((lan, "A"), config, name="A", subsystems={"vrrp"})
    k.wait_for_state("VI_1", "MASTER", timeout=10)
    observer = ipaddress.IPv4Address("192.0.2.100").packed

    def to_observer() -> list[bytes]:
        return [p for p in _ah_packets(capture.packets()) if p[16:20] == observer]

    wait_for(lambda: len(to_observer()) >= 3, timeout=10)
    seqs = []
    for packet in to_observer():
        assert packet[8] == 255 and packet[1] == 0xC0
        payload, seq = verify_ah(packet, PASSWORD, 0, unicast=True)
        seqs.append(seq)
        with pytest.raises(AhError) as err:
            verify_ah(packet, PASSWORD, 0, unicast=False)
        assert err.value.reason is AhReason.ICV
        rebuilt = build_ah_packet(
            src=packet[12:16],
            dst=observer,
            ip_id=int.from_bytes(packet[4:6], "big"),
            vrrp_payload=payload,
            key=PASSWORD,
            seq=seq,
            unicast=True,
        )
        assert rebuilt == packet
    # One sequence number per advert, shared by every peer's copy.
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
