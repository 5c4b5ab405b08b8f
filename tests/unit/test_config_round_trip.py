"""The canonical writer: for every corpus config, parse(write(model)) == model."""

from __future__ import annotations

from pathlib import Path

import pytest

from pykad.config.build import NoHost
from pykad.config.load import Loaded, load
from pykad.config.model import write
from pykad.drivers.files import LocalFiles

CORPUS = Path(__file__).resolve().parents[1] / "config_corpus"
CONFIGS = sorted(CORPUS.glob("*/*.conf")) + sorted((CORPUS.parents[1] / "conf").glob("*.conf"))


def read(directory: Path, name: str) -> Loaded:
    return load(LocalFiles(), name, cwd=str(directory), config_id="lang", host=NoHost())


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_write_then_read_gives_the_same_model(tmp_path: Path, path: Path) -> None:
    first = read(path.parent, path.name)
    if first.config is None:  # reading stopped at a missing parameter, as keepalived does
        assert first.diagnostics.stopped and first.diagnostics.exit_code() == 2
        return
    (tmp_path / "written.conf").write_text(write(first.config))
    again = read(tmp_path, "written.conf")
    assert again.config == first.config
    assert again.parts.keys() == first.parts.keys()
    for name, part in first.parts.items():
        assert again.parts[name] == part, name
