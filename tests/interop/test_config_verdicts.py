"""``pykad -t`` gives the same verdict (exit code) as ``keepalived -t`` on the same file.

Both run in the same network namespace, on every file of the corpus in
tests/config_corpus/language/ (the language: comments, quotes, braces,
includes, @conditionals, $VARS, ~SEQ/~LST, unknown keywords, broken inputs).
keepalived runs for real on each file; nothing here is a recorded answer.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.keepalived import config_test
from lab.need import need_program
from lab.netns import Topology, netns_exec_argv

pytestmark = pytest.mark.interop

CORPUS = Path(__file__).resolve().parents[1] / "config_corpus"
LANGUAGE = sorted((CORPUS / "language").glob("*.conf"))
CONFIG_ID = "lang"


@pytest.fixture(scope="module")
def netns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    need_program("keepalived")
    with Topology(tmp_path_factory.mktemp("verdicts")) as topo:
        yield topo.add_node("K")


def pykad_test(netns: str, path: Path) -> subprocess.CompletedProcess[str]:
    pykad = shutil.which("pykad", path=str(Path(sys.executable).parent))
    assert pykad, "pykad is not installed next to this Python"
    argv = netns_exec_argv(netns, [pykad, "-t", "-f", str(path), "-i", CONFIG_ID])
    return subprocess.run(argv, capture_output=True, text=True, cwd=path.parent, timeout=60)


def test_corpus_is_there() -> None:
    assert len(LANGUAGE) >= 40


@pytest.mark.parametrize("path", LANGUAGE, ids=lambda p: p.stem)
def test_language_verdict_matches_keepalived(netns: str, path: Path) -> None:
    keepalived = config_test(path, netns, config_id=CONFIG_ID)
    ours = pykad_test(netns, path)
    assert ours.returncode == keepalived.returncode, (
        f"keepalived -t: {keepalived.returncode}\n{keepalived.output}\n"
        f"pykad -t: {ours.returncode}\n{ours.stderr}"
    )
