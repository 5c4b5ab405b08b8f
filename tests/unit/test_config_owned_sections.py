"""A process that reads only its own sections gets the same parts as a full read.

At a reload each child reads only what it owns (``pykad.daemon.process.VRRP_SECTIONS``,
``CHECKER_SECTIONS``), as keepalived's processes skip each other's keywords: the other
sections' blocks are walked unread.  Over every corpus config and keepalived's samples,
the parts a child owns equal those of a full read, and the findings it reports are the
full read's less those in what it skipped.
"""

from __future__ import annotations

import glob
import os
import random
from pathlib import Path

import pytest

from pykad.config.build import NoHost
from pykad.config.load import Loaded, load
from pykad.daemon.process import CHECKER_SECTIONS, VRRP_SECTIONS
from pykad.drivers.files import LocalFiles

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(
    glob.glob(str(ROOT / "tests/config_corpus/**/*.conf"), recursive=True)
    + glob.glob("/usr/share/doc/keepalived/samples/keepalived.conf*")
    + [str(ROOT / "conf/keepalived.conf")]
)
OWNED = {"vrrp": VRRP_SECTIONS, "checker": CHECKER_SECTIONS}


class _Host(NoHost):
    def interface_exists(self, name: str) -> bool:
        return name in ("eth0", "eth1", "lo")


def _load(path: str, sections: tuple[str, ...] | None) -> Loaded:
    return load(
        LocalFiles(),
        path,
        cwd=os.path.dirname(path),
        config_id="r1",
        host=_Host(),
        rng=random.Random(1),
        sections=sections,
    )


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: os.path.relpath(p, ROOT))
def test_owned_sections_read_as_the_full_read(path: str) -> None:
    full = _load(path, None)
    for child, sections in OWNED.items():
        part = _load(path, sections)
        assert set(part.parts) == set(sections) or part.config is None, child
        if full.config is not None and part.config is not None:
            for name in sections:
                assert part.parts[name] == full.parts[name], (child, name)
        # Its findings are some of the full read's, in the same order.
        rest = iter(full.diagnostics.items)
        assert all(item in rest for item in part.diagnostics.items), child


def test_a_child_does_not_see_the_other_childs_errors(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n"
        " virtual_ipaddress {\n  192.0.2.1/32\n }\n typo_in_vrrp 1\n}\n"
        "virtual_server 192.0.2.10 80 {\n delay_loop 3\n typo_in_lvs 1\n"
        " real_server 198.51.100.1 80 {\n  TCP_CHECK {\n   connect_timeout 3\n  }\n }\n}\n"
    )

    def unknown(loaded: Loaded) -> list[str]:
        return [d.message for d in loaded.diagnostics.items if "Unknown keyword" in d.message]

    full = _load(str(conf), None)
    vrrp, checker = _load(str(conf), VRRP_SECTIONS), _load(str(conf), CHECKER_SECTIONS)
    assert unknown(full) == ["Unknown keyword 'typo_in_vrrp'", "Unknown keyword 'typo_in_lvs'"]
    assert unknown(vrrp) == ["Unknown keyword 'typo_in_vrrp'"]
    assert unknown(checker) == ["Unknown keyword 'typo_in_lvs'"]
    assert vrrp.config is not None and checker.config is not None
    assert [i.name for i in vrrp.config.vrrp.instances] == ["VI_1"]
    assert not vrrp.config.lvs.virtual_servers
    assert len(checker.config.lvs.virtual_servers) == 1
    assert not checker.config.vrrp.instances
