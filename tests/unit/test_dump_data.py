"""The parent's and the checker's data dumps (``pykad.daemon.dump_data``) against what
keepalived 2.2.7 wrote.

``keepalived_dumps/`` holds configs and the files Debian's keepalived 2.2.7 wrote for
them on SIGUSR1, in a network namespace: ``g.conf`` (most global keywords set),
``w.conf`` (process names, nftables, realtime, DBus, SNMP socket, reload check),
``v.conf`` (a few) with the parent's ``*.parent.data`` and the VRRP process's
``*.vrrp.data``; ``check.conf`` (two virtual servers: HTTP_GET and MISC_CHECK with a
sorry server and quorum, TCP_CHECK on UDP) with the checker's ``check.check.data``,
``ssl.conf`` (SSL_GET with enable_sni and fast_recovery; no router_id, so keepalived
names the host, "vm" there) with ``ssl.check.data``
(keepalived's checker ran with bench/fakeipvs.c preloaded: no kernel IPVS here).  pykad
reads the same configs; its texts must be keepalived's, less the lines pykad leaves out
on purpose (``OMITTED``).
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from pykad.config.build import NoHost
from pykad.config.load import load
from pykad.config.model import Config
from pykad.config.scripts import Script
from pykad.config.sections._lvs_model import SslConfig
from pykad.daemon import dump
from pykad.daemon.dump_data import VsDump, format_check, format_global, format_ssl
from pykad.drivers.files import LocalFiles
from pykad.lb.pool import ServerDump

HERE = Path(__file__).parent / "keepalived_dumps"
OMITTED = (
    " libnftnl version ",  # pykad drives nft, not libnftnl
    " VRRP CPU Affinity = ",  # keepalived's own mask format, not modelled
    "   Retries iterations = ",  # run-time counters pykad does not keep
    "   Last ran = ",
    "   Last status = ",
)


class _Host(NoHost):
    def interface_exists(self, name: str) -> bool:
        return True


def _config(name: str) -> Config:
    loaded = load(LocalFiles(), str(HERE / name), cwd=str(HERE), config_id="x", host=_Host())
    assert loaded.config is not None
    return loaded.config


def _keepalived(name: str, stop: str | None = None) -> list[str]:
    lines = (HERE / name).read_text().splitlines()
    if stop is not None:
        lines = lines[: lines.index(stop)]
    return [line for line in lines if not line.startswith(OMITTED)]


def _same(ours: list[str], theirs: list[str]) -> None:
    assert ours == theirs, "\n".join(difflib.unified_diff(theirs, ours, lineterm=""))


@pytest.mark.parametrize("name", ["g", "w", "v"])
def test_the_parent_s_global_definitions_are_keepalived_s(name: str) -> None:
    ours = format_global(_config(f"{name}.conf").global_defs, script_ids=(0, 0), hostname="vm")
    _same(ours, _keepalived(f"{name}.parent.data"))


def test_the_vrrp_process_s_global_definitions_are_keepalived_s() -> None:
    gd = _config("v.conf").global_defs
    ours = format_global(gd, script_ids=(0, 0), hostname="vm", vrrp=True)
    _same(ours, _keepalived("v.vrrp.data", stop="------< VRRP Topology >------"))
    text = dump.format_data([], global_lines=ours)
    assert text == "\n".join([*ours, "------< VRRP Topology >------"]) + "\n"


def _up(weight: int) -> ServerDump:
    return ServerDump(
        alive=True,
        initial_weight=weight,
        effective_weight=weight,
        failed=0,
        set=True,
        checkers=((True, False, 0),),
    )


def _script(script: Script) -> tuple[str, int, int]:
    assert script.argv == ("/bin/true",)
    return "/usr/bin/true", 0, 0  # keepalived shows the real path it vetted


def test_the_checker_s_topology_and_checkers_are_keepalived_s() -> None:
    """keepalived's state when it wrote the file: the first virtual server up (its
    checks not run yet), the UDP one's only real server already failed."""
    config = _config("check.conf")
    vs1, vs2 = config.lvs.virtual_servers
    down = ServerDump(
        alive=False,
        initial_weight=1,
        effective_weight=1,
        failed=1,
        set=False,
        checkers=((False, True, 0),),
    )
    states = [
        VsDump(vs1, active=True, quorum_up=True, servers=(_up(3), _up(1))),
        VsDump(vs2, active=True, quorum_up=False, servers=(down,)),
    ]
    ours = format_global(config.global_defs, script_ids=(0, 0), hostname="vm")
    _same(ours + format_check(states, _script), _keepalived("check.check.data"))


def test_an_ssl_get_s_sni_and_fast_recovery_lines_are_keepalived_s() -> None:
    config = _config("ssl.conf")
    (vs,) = config.lvs.virtual_servers
    states = [VsDump(vs, active=True, quorum_up=True, servers=(_up(1),))]
    ours = format_global(config.global_defs, script_ids=(0, 0), hostname="vm")
    _same(ours + format_check(states, _script), _keepalived("ssl.check.data"))


def test_an_ssl_block_s_settings_are_keepalived_s() -> None:
    """Lines keepalived 2.2.7 wrote for ``SSL { password, ca, certificate, key }``."""
    ssl = SslConfig(password="secret", ca="/c.pem", certificate="/c.pem", key="/k.pem")
    assert format_ssl(ssl, []) == [
        "------< SSL definitions >------",
        " Password : secret",
        " CA-file : /c.pem",
        " Certificate file : /c.pem",
        " Key file : /k.pem",
    ]
