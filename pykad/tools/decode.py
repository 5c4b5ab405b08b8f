"""``pykadctl decode``: decode and check every VRRP advert in a capture.

For each VRRP packet in a pcap file: the IP ends, TTL, the advert's fields as
pykad's codec decodes them (or why it is malformed), and whether re-encoding
the decoded advert gives back the same bytes. Ends with counts per outcome.
"""

from __future__ import annotations

import collections
import ipaddress
import json
import sys
from typing import Any

from pykad.tools.pcap import PcapError, network_layer, parse_ip, read_pcap
from pykad.vrrp import wire
from pykad.vrrp.advert import IPPROTO_VRRP, AdvertError

_AUTH = {0: "none", 1: "pass", 2: "ah"}


def decode_capture(path: str, *, as_json: bool = False) -> int:
    """Print one line (or JSON object) per VRRP packet; 0 if every advert was sound."""
    counts: collections.Counter[str] = collections.Counter()
    try:
        for frame in read_pcap(path):
            raw = network_layer(frame)
            ip = parse_ip(raw) if raw is not None else None
            if ip is None or ip.protocol != IPPROTO_VRRP:
                continue
            row: dict[str, Any] = {
                "time": round(frame.timestamp, 6),
                "src": str(ipaddress.ip_address(ip.src)),
                "dst": str(ipaddress.ip_address(ip.dst)),
                "ttl": ip.ttl,
            }
            try:
                advert = wire.decode_untrusted(ip.payload, ip.ip_version, ip.src, ip.dst)
            except AdvertError as e:
                row["error"] = str(e)
                counts[f"malformed ({e.reason.value})"] += 1
            else:
                again = wire.encode(advert, ip.ip_version, ip.src, ip.dst)
                row |= {
                    "version": advert.version,
                    "vrid": advert.vrid,
                    "priority": advert.priority,
                    "interval": advert.max_advert_int
                    * (100 if advert.version == 2 else 1),  # centiseconds
                    "addresses": [str(ipaddress.ip_address(a)) for a in advert.addresses],
                    "reencoded_identical": again == ip.payload[: len(again)],
                }
                if advert.version == 2:
                    row["auth"] = _AUTH.get(advert.auth_type, str(advert.auth_type))
                counts["ok" if row["reencoded_identical"] else "re-encoded differently"] += 1
            print(json.dumps(row) if as_json else _line(row))
    except (OSError, PcapError) as e:
        print(f"pykadctl decode: {e}", file=sys.stderr)
        return 2
    summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "no VRRP packets"
    print(f"# {summary} (codec: {wire.IMPLEMENTATION})", file=sys.stderr if as_json else sys.stdout)
    return 0 if set(counts) <= {"ok"} else 1


def _line(row: dict[str, Any]) -> str:
    head = f"{row['time']:.6f} {row['src']} > {row['dst']} ttl {row['ttl']}"
    if "error" in row:
        return f"{head} MALFORMED {row['error']}"
    auth = f" auth {row['auth']}" if "auth" in row else ""
    same = "re-encoded identical" if row["reencoded_identical"] else "RE-ENCODED DIFFERENTLY"
    return (
        f"{head} VRRPv{row['version']} vrid {row['vrid']} prio {row['priority']}"
        f" intvl {row['interval']}cs{auth} addrs {','.join(row['addresses'])}: {same}"
    )
