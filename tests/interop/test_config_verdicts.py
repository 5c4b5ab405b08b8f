"""``pykad -t`` gives the same verdict (exit code) as ``keepalived -t`` on the same file.

Both run in the same network namespace, which has the interfaces the corpus
names (eth0, eth1, veth0, veth1; eth0 holds 192.0.2.1/24 and 2001:db8::1/64),
on every file under tests/config_corpus/<section>/: the language (comments,
quotes, braces, includes, @conditionals, $VARS, ~SEQ/~LST, broken inputs) and
each section's keywords and checks, and sem/ (configs written while researching
keepalived's semantic checks). keepalived runs for real on each file; nothing
here is a recorded answer.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.keepalived import config_test
from lab.need import need_program
from lab.netns import Topology, netns_exec_argv

pytestmark = pytest.mark.interop

CORPUS = Path(__file__).resolve().parents[1] / "config_corpus"
CONFIGS = sorted(CORPUS.glob("*/*.conf")) + sorted((CORPUS.parents[1] / "conf").rglob("*.conf"))
CONFIG_ID = "lang"
SAMPLES_DIR = Path("/usr/share/doc/keepalived/samples")
SAMPLES = sorted(SAMPLES_DIR.glob("keepalived.conf.*"))
"""The sample configs Debian's keepalived package ships."""


@pytest.fixture(scope="module")
def netns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    need_program("keepalived")
    with Topology(tmp_path_factory.mktemp("verdicts"), ipv6=True) as topo:
        ns = topo.add_node("K")
        for a, b in (("eth0", "eth1"), ("veth0", "veth1")):
            topo.run("K", "ip", "link", "add", a, "type", "veth", "peer", "name", b)
            topo.run("K", "ip", "link", "set", a, "up")
            topo.run("K", "ip", "link", "set", b, "up")
        topo.run("K", "ip", "addr", "add", "192.0.2.1/24", "dev", "eth0")
        topo.run("K", "ip", "addr", "add", "2001:db8::1/64", "dev", "eth0", "nodad")
        yield ns


def pykad_test(netns: str, path: Path) -> subprocess.CompletedProcess[str]:
    pykad = shutil.which("pykad", path=str(Path(sys.executable).parent))
    assert pykad, "pykad is not installed next to this Python"
    argv = netns_exec_argv(netns, [pykad, "-t", "-f", str(path), "-i", CONFIG_ID])
    return subprocess.run(argv, capture_output=True, text=True, cwd=path.parent, timeout=60)


def assert_same_verdict(netns: str, path: Path) -> None:
    keepalived = config_test(path, netns, config_id=CONFIG_ID)
    ours = pykad_test(netns, path)
    pykad_lines = [
        line for line in path.read_text().splitlines() if line.strip().startswith("pykad_")
    ]
    if pykad_lines:
        # pykad's own keywords: keepalived warns about each as unknown and otherwise
        # runs the file; its verdict without them is the one pykad must give.
        for line in pykad_lines:
            assert f"Unknown keyword '{line.split()[0]}'" in keepalived.output
        with tempfile.TemporaryDirectory() as tmp:
            bare = Path(tmp) / path.name
            bare.write_text(
                "".join(
                    line
                    for line in path.read_text().splitlines(keepends=True)
                    if not line.strip().startswith("pykad_")
                )
            )
            keepalived = config_test(bare, netns, config_id=CONFIG_ID)
    assert ours.returncode == keepalived.returncode, (
        f"keepalived -t: {keepalived.returncode}\n{keepalived.output}\n"
        f"pykad -t: {ours.returncode}\n{ours.stderr}"
    )


def test_corpus_is_there() -> None:
    assert len(CONFIGS) >= 40


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_verdict_matches_keepalived(netns: str, path: Path) -> None:
    assert_same_verdict(netns, path)


def test_debian_samples_are_there() -> None:
    need_program("keepalived")
    assert len(SAMPLES) >= 20, f"keepalived's samples not found in {SAMPLES_DIR}"


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_debian_sample_verdict_matches_keepalived(netns: str, path: Path) -> None:
    assert_same_verdict(netns, path)


def test_net_namespace_checks_run_inside_that_namespace(
    netns: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """keepalived enters net_namespace first: interfaces are looked up there."""
    with Topology(tmp_path_factory.mktemp("target")) as topo:
        target = topo.add_node("T")
        topo.run("T", "ip", "link", "add", "vrrp0", "type", "veth", "peer", "name", "vrrp1")
        conf = tmp_path_factory.mktemp("nsconf") / "keepalived.conf"
        conf.write_text(
            f"net_namespace {target}\n"
            "vrrp_instance VI_1 {\n    interface vrrp0\n    virtual_router_id 9\n"
            "    virtual_ipaddress {\n        192.0.2.9/32\n    }\n}\n"
        )
        assert config_test(conf, netns).returncode == 0  # vrrp0 exists only in the target
        assert pykad_test(netns, conf).returncode == 0
        conf.write_text(conf.read_text().replace("vrrp0", "nosuch0"))
        assert_same_verdict(netns, conf)
