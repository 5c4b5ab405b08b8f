"""track_file / vrrp_track_file blocks: model, keepalived's messages, defaults, round trip."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pykad.config.build import Builders, Context, NoHost
from pykad.config.diagnostics import Diagnostics, Location
from pykad.config.load import Loaded, load
from pykad.config.scripts import FileStatus
from pykad.config.sections import track_file as tf
from pykad.config.sections.track_file import InitFile, TrackFile, TrackFiles
from pykad.config.tree import Statement
from pykad.drivers.files import LocalFiles

CORPUS = Path(__file__).resolve().parents[1] / "config_corpus" / "track_file"


class Files:
    """/dev/* are character devices, everything else a regular file."""

    def search_path(self, name: str) -> str | None:
        return None

    def realpath(self, path: str) -> str | None:
        return path

    def stat(self, path: str) -> FileStatus | None:
        kind = stat.S_IFCHR if path.startswith("/dev/") else stat.S_IFREG
        return FileStatus(kind | 0o644, 0, 0)

    lstat = stat


def read(tmp_path: Path, text: str) -> Loaded:
    (tmp_path / "k.conf").write_text(text)
    return load(LocalFiles(), "k.conf", cwd=str(tmp_path), config_id="t", host=NoHost(),
                script_host=Files())  # fmt: skip


def files(loaded: Loaded) -> TrackFiles:
    part = loaded.parts["track_file"]
    assert isinstance(part, TrackFiles)
    return part


def corpus(tmp_path: Path, name: str) -> Loaded:
    return read(tmp_path, (CORPUS / f"{name}.conf").read_text())


def test_values_and_defaults(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "ok_basic")
    assert not loaded.diagnostics.items
    assert files(loaded) == TrackFiles((
        TrackFile(name="tf1", path="/run/pykad_tf1"),
        TrackFile(name="tf2", path="/run/pykad_tf2", weight=-10, weight_reverse=True,
                  init=InitFile.OVERWRITE, init_value=5),
        TrackFile(name="tf3", path="/run/pykad_tf3", weight=254, init=InitFile.CREATE),
    ))  # fmt: skip
    assert TrackFile(name="x", path="/p").weight == 1


def test_duplicate_names_are_kept_and_the_first_is_found(tmp_path: Path) -> None:
    part = files(corpus(tmp_path, "duplicate_names"))
    assert [f.name for f in part.files] == ["tf1", "tf1"]
    found = part.find("tf1")
    assert found is not None and found.path == "/run/pykad_a"
    assert part.find("nope") is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("no_file", ["No file set for track_file tf1 - ignoring"]),
        ("file_twice", ["File already set for track file tf1 - ignoring /run/pykad_b"]),
        ("file_missing", ["track file file name missing",
                          "No file set for track_file tf1 - ignoring"]),
        ("weight_out_of_range", ["number '255' outside range [-254, 254]",
                                 "Weight (255) for track_file tf1 must be between [-254..254] "
                                 "inclusive. Ignoring..."]),
        ("weight_twice", ["Weight already set for track file tf1 - ignoring 6"]),
        ("weight_bad_option", ["track_file tf1 unknown weight option backwards"]),
        ("weight_missing", ["No weight specified for track file tf1 - ignoring"]),
        ("init_value_invalid", ["invalid number '12ab'",
                                "Track file tf1 init value 12ab is invalid"]),
        ("init_value_not_sensible", ["Track file tf1 init value -300 is outside sensible range "
                                     "[-254, 254]"]),
        ("init_unknown_option", ["Unknown track file init option +5",
                                 "Unknown track file init option now"]),
        ("init_overwrite_not_regular", ["Cannot initialise track file tf1 - it is not a regular "
                                        "file"]),
    ],
)  # fmt: skip
def test_messages_are_keepalived_s(tmp_path: Path, name: str, expected: list[str]) -> None:
    loaded = corpus(tmp_path, name)
    assert [d.message for d in loaded.diagnostics.items] == expected
    assert loaded.diagnostics.exit_code() == 5


def test_weight_one_can_be_set_again(tmp_path: Path) -> None:
    (f,) = files(corpus(tmp_path, "weight_one_then_other")).files
    assert f.weight == -7


def test_a_missing_name_stops_with_exit_2(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "name_missing")
    assert loaded.config is None and loaded.diagnostics.exit_code() == 2


def test_names_in_file_order_for_other_sections() -> None:
    ctx = Context(Diagnostics(), NoHost())
    b = tf.Builder(ctx, Builders())
    where = Location("k.conf", 1)
    for name in ("b", "a", "b"):
        child = Statement(
            "file", ("file", f"/run/{name}"), f"file /run/{name}", where, "track_file"
        )
        b.statement(Statement("track_file", ("track_file", name), f"track_file {name}", where, "",
                              (child,)))  # fmt: skip
        if name == "a":
            assert b.names() == ("b", "a")
    assert b.names() == ("b", "a", "b")
    found = b.find("b")
    assert found is not None and found.path == "/run/b"
    assert b.find("c") is None


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.conf")), ids=lambda p: p.stem)
def test_round_trip(tmp_path: Path, path: Path) -> None:
    loaded = read(tmp_path, path.read_text())
    if loaded.config is None:
        return
    part = files(loaded)
    text = "\n".join(tf.write(part)) + "\n"
    again = read(tmp_path, text)
    assert files(again) == part, text
    if not loaded.diagnostics.items:
        assert not again.diagnostics.items, text


def test_written_text(tmp_path: Path) -> None:
    part = TrackFiles((TrackFile(name="t", path="/run/my file", weight=1, weight_reverse=True,
                                 init=InitFile.CREATE, init_value=-3),))  # fmt: skip
    text = "\n".join(tf.write(part)) + "\n"
    assert 'file "/run/my file"' in text and "weight 1 reverse" in text
    assert "init_file -3" in text
    assert files(read(tmp_path, text)) == part
