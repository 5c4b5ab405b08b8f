"""tcpdump decodes what pykad's encoder writes as valid VRRP."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

import pytest

from lab.frames import vrrp_frame
from lab.need import need_program
from pykad.tools.pcap import LINKTYPE_ETHERNET, Frame, write_pcap
from pykad.vrrp import wire
from pykad.vrrp.advert import VRRP_MCAST_V4, VRRP_MCAST_V6, Advert


def ip(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


CASES = [
    (
        Advert(2, 51, 100, 1, (ip("192.0.2.10"), ip("192.0.2.11")), 1, b"secret\0\0"),
        4,
        ip("192.0.2.1"),
        VRRP_MCAST_V4,
        "VRRPv2, Advertisement, vrid 51, prio 100, authtype simple, intvl 1s, length 24, "
        'addrs(2): 192.0.2.10,192.0.2.11 auth "secret',
    ),
    (
        Advert(3, 7, 254, 1, (ip("192.0.2.20"),)),
        4,
        ip("192.0.2.2"),
        ip("192.0.2.3"),  # unicast peer
        "VRRPv3, Advertisement, vrid 7, prio 254, intvl 1cs, length 12, addrs: 192.0.2.20",
    ),
    (
        Advert(3, 200, 0, 4095, (ip("2001:db8::10"),)),
        6,
        ip("fe80::1"),
        VRRP_MCAST_V6,
        "VRRPv3, Advertisement, vrid 200, prio 0, intvl 4095cs, length 24, addrs: 2001:db8::10",
    ),
]


def test_tcpdump_reads_encoded_adverts_as_valid_vrrp(tmp_path: Path) -> None:
    need_program("tcpdump")
    frames = []
    for advert, ip_version, src, dst, _ in CASES:
        payload = wire.encode(advert, ip_version, src, dst)
        frames.append(
            Frame(0.0, LINKTYPE_ETHERNET, vrrp_frame(advert.vrid, ip_version, src, dst, payload))
        )
    pcap = tmp_path / "adverts.pcap"
    write_pcap(pcap, frames, LINKTYPE_ETHERNET)
    out = subprocess.run(
        ["tcpdump", "-r", str(pcap), "-nn", "-vv", "-t"], capture_output=True, text=True, check=True
    ).stdout
    lines = out.splitlines()
    for _, _, _, _, expected in CASES:
        assert any(expected in line for line in lines), f"{expected!r} not in:\n{out}"
    assert "bad" not in out, out
    assert out.count("ttl 255") + out.count("hlim 255") == len(CASES), out


def test_tcpdump_flags_a_corrupted_v2_checksum(tmp_path: Path) -> None:
    need_program("tcpdump")
    advert, ip_version, src, dst, _ = CASES[0]
    payload = bytearray(wire.encode(advert, ip_version, src, dst))
    payload[7] ^= 0xFF
    frame = Frame(0.0, LINKTYPE_ETHERNET, vrrp_frame(51, 4, src, dst, bytes(payload)))
    write_pcap(tmp_path / "bad.pcap", [frame], LINKTYPE_ETHERNET)
    out = subprocess.run(
        ["tcpdump", "-r", str(tmp_path / "bad.pcap"), "-nn", "-vv"], capture_output=True, text=True
    ).stdout
    assert "bad vrrp cksum" in out, out


@pytest.mark.parametrize("case", range(len(CASES)))
def test_pcap_round_trip_through_the_reader(tmp_path: Path, case: int) -> None:
    from pykad.tools.pcap import network_layer, parse_ip, read_pcap

    advert, ip_version, src, dst, _ = CASES[case]
    payload = wire.encode(advert, ip_version, src, dst)
    write_pcap(
        tmp_path / "one.pcap", [Frame(1.5, 1, vrrp_frame(1, ip_version, src, dst, payload))], 1
    )
    (frame,) = read_pcap(tmp_path / "one.pcap")
    raw = network_layer(frame)
    assert raw is not None
    packet = parse_ip(raw)
    assert packet is not None and (packet.src, packet.dst, packet.ttl) == (src, dst, 255)
    assert wire.decode_untrusted(packet.payload, ip_version, src, dst) == advert
