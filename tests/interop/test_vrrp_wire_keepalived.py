"""pykad's codec reads the real keepalived's adverts and writes them back byte for byte."""

from __future__ import annotations

import pytest

from lab.captures import INSTANCES, capture_keepalived_adverts
from lab.keepalived import KeepalivedLab
from lab.netns import Topology
from pykad.tools.pcap import network_layer, parse_ip, read_pcap
from pykad.vrrp import wire
from pykad.vrrp.advert import AUTH_PASS, IPPROTO_VRRP

pytestmark = pytest.mark.interop


def test_codec_decodes_and_reencodes_keepalived_adverts(
    netns_lab: Topology, keepalived_lab: KeepalivedLab
) -> None:
    pcap = capture_keepalived_adverts(netns_lab, keepalived_lab)
    seen: dict[tuple[int, int], int] = {}
    for frame in read_pcap(pcap):
        raw = network_layer(frame)
        ip = parse_ip(raw) if raw else None
        if ip is None or ip.protocol != IPPROTO_VRRP:
            continue
        advert = wire.decode_untrusted(ip.payload, ip.ip_version, ip.src, ip.dst)
        assert wire.encode(advert, ip.ip_version, ip.src, ip.dst) == ip.payload
        assert ip.ttl == 255
        seen[(advert.vrid, advert.priority)] = seen.get((advert.vrid, advert.priority), 0) + 1
        by_vrid = {vrid: (version, ipv, prio) for _, vrid, prio, version, ipv, _ in INSTANCES}
        version, ip_version, _ = by_vrid[advert.vrid]
        assert (advert.version, ip.ip_version) == (version, ip_version)
        if advert.version == 2:
            assert advert.auth_type == AUTH_PASS and advert.auth_data == b"secret1\0"
            assert advert.max_advert_int == 1
    for _, vrid, prio, *_ in INSTANCES:
        assert seen.get((vrid, prio)), f"no advert from VRID {vrid} at priority {prio}"
        assert seen.get((vrid, 0)), f"no priority-0 advert from VRID {vrid}"
