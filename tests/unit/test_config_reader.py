"""The config reader against keepalived 2.2.7's language (docs/reference, parser notes).

Each case is an example from that reference, checked there against the real
keepalived's tokens; the section numbers are the reference's.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pykad.config.diagnostics import Diagnostics, Severity
from pykad.config.load import load
from pykad.config.reader import Reader
from pykad.drivers.files import LocalFiles


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def read(
    root: Path, text: str, extra: dict[str, str] | None = None, config_id: str = "vm"
) -> tuple[list[tuple[str, ...]], Diagnostics]:
    write(root, {"main.conf": text, **(extra or {})})
    reader = Reader(LocalFiles(), "main.conf", str(root), config_id, random.Random(1))
    return [line.words for line in reader.lines()], reader.diagnostics


def messages(diagnostics: Diagnostics) -> list[str]:
    return [d.message for d in diagnostics.items]


@pytest.mark.parametrize(
    ("line", "words"),
    [  # §1.2 comments, §1.5 words
        ("router_id r1 ! bang comment", ("router_id", "r1")),
        ('router_id "a # b" # real comment', ("router_id", "a # b")),
        ("router_id 'a # b' # single quoted", ("router_id", "'a")),
        ("router_id a\\#b", ("router_id", "a#b")),
        ('router_id "a\\#b"', ("router_id", "a\\#b")),
        ("router_id a\\\\#b", ("router_id", "a\\\\")),
        ("router_id a\\!b\\#c", ("router_id", "a!b#c")),
        ("router_id x#y", ("router_id", "x")),
        ("router_id abc \\", ("router_id", "abc\\")),
        ('kw "abc"def"ghi"', ("kw", "abc", "def", "ghi")),
        ('kw abc"def ghi"jkl', ("kw", "abc", "def ghi", "jkl")),
        ("kw 'x y'", ("kw", "'x", "y'")),
        ('kw ""', ("kw", "")),
        ("router_id \ttab\tsep", ("router_id", "tab", "sep")),
    ],
)
def test_words(tmp_path: Path, line: str, words: tuple[str, ...]) -> None:
    lines, _ = read(tmp_path, line + "\n")
    assert lines == [words]


@pytest.mark.parametrize(
    ("text", "lines"),
    [  # §1.4 brace splitting
        ("global_defs{", [("global_defs",), ("{",)]),
        ("router_id a{b", [("router_id", "a"), ("{",), ("b",)]),
        (
            "global_defs { router_id r2 }",
            [("global_defs",), ("{",), ("router_id", "r2"), ("}",)],
        ),
        ('router_id "x{y}" z', [("router_id", "x{y}", "z")]),
        ("global_defs {}", [("global_defs",), ("{",), ("}",)]),
    ],
)
def test_braces_are_lines_of_their_own(
    tmp_path: Path, text: str, lines: list[tuple[str, ...]]
) -> None:
    assert read(tmp_path, text + "\n")[0] == lines


def test_extra_and_missing_braces(tmp_path: Path) -> None:
    _, diags = read(tmp_path, "}\n")
    assert messages(diags) == ["Extra '}' found"]
    loaded = load(LocalFiles(), "main.conf", cwd=str(tmp_path), config_id="x")
    assert loaded.diagnostics.items[0].location is not None
    write(tmp_path, {"open.conf": "global_defs {\nrouter_id a\n"})
    loaded = load(LocalFiles(), "open.conf", cwd=str(tmp_path), config_id="x")
    assert messages(loaded.diagnostics) == ["There are 1 missing '}'s or extra '{'s"]
    assert loaded.diagnostics.exit_code() == 5


CONDITIONALS = """\
@vm router_id A_vm
@^vm router_id B_notvm
@other router_id C_other
@^other router_id D_notother
@ vm router_id E_space
    @vm router_id G_leadingws
@vm
@vm\trouter_id H_tab
@VM router_id I_upper
router_id M @vm mid
"""


def test_conditional_lines(tmp_path: Path) -> None:  # §3
    lines, _ = read(tmp_path, CONDITIONALS)
    assert lines == [
        ("router_id", "A_vm"),
        ("router_id", "D_notother"),
        ("router_id", "G_leadingws"),
        ("router_id", "H_tab"),
        ("router_id", "M", "@vm", "mid"),
    ]


def test_conditional_residue_drops_its_closing_brace(tmp_path: Path) -> None:
    lines, _ = read(tmp_path, "global_defs { @other router_id O }\n")
    assert lines == [("global_defs",), ("{",)]


PARAMETERS = """\
$A=alpha
$EMPTY=
$A_B=ab
router_id $A
router_id ${A}x
router_id x$A
router_id $A,$A)
router_id $A.x
router_id $Ax
router_id "$A"
router_id $A$A
router_id [$EMPTY] [${EMPTY}]
router_id $A_B ${A}_B
$B =beta
$LAZY=x${SUB}y
$SUB=1
router_id $LAZY
$SUB=2
router_id $LAZY ${LAZY}
"""


def test_parameters(tmp_path: Path) -> None:  # §4.1-4.3
    lines, _ = read(tmp_path, PARAMETERS)
    assert [" ".join(w) for w in lines] == [
        "router_id alpha",
        "router_id alphax",
        "router_id xalpha",
        "router_id alpha,alpha)",
        "router_id $A.x",
        "router_id $Ax",
        "router_id $A",
        "router_id $Aalpha",
        "router_id [$EMPTY] []",
        "router_id ab alpha_B",
        "$B =beta",
        "router_id x1y",
        "router_id x2y x2y",
    ]


def test_substitution_decomments_again(tmp_path: Path) -> None:  # §4.4
    lines, _ = read(tmp_path, 'router_id a${_HASH}b\nrouter_id "a${_HASH}b" c\n')
    assert lines == [("router_id", "a"), ("router_id", "a#b", "c")]


def test_builtins(tmp_path: Path) -> None:  # §4.5
    write(tmp_path, {"sub/inc.conf": "router_id ${_PWD}\n"})
    lines, _ = read(tmp_path, "router_id ${_INSTANCE}\ninclude sub/inc.conf\n", config_id="n1")
    assert lines == [("router_id", "n1"), ("router_id", str(tmp_path / "sub"))]
    lines, _ = read(tmp_path, "router_id ${_RANDOM 5 10} tail\n")
    assert lines[0][2] == "tail" and 5 <= int(lines[0][1]) <= 10


def test_undefined_braced_reference_is_split_at_its_braces(tmp_path: Path) -> None:
    lines, _ = read(tmp_path, "router_id ${UNDEF}\n")
    assert lines == [("router_id", "$"), ("{",), ("UNDEF",), ("}",)]


def test_self_reference_is_an_error_not_a_hang(tmp_path: Path) -> None:
    _, diags = read(tmp_path, "$A=$B\n$B=$A\nrouter_id $A\n")
    assert diags.worst is Severity.GENERAL_ERROR
    assert "does not end" in messages(diags)[0]


MULTILINE = """\
$D1=router_id a \\
# comment no backslash
router_id b \\
router_id c
global_defs {
$D1
$D1 tail
}
"""


def test_multiline_definitions(tmp_path: Path) -> None:  # §4.6
    lines, _ = read(tmp_path, MULTILINE)
    assert lines == [
        ("global_defs",),
        ("{",),
        ("router_id", "a"),
        ("router_id", "b"),
        ("router_id", "c"),
        ("$D1", "tail"),
        ("}",),
    ]


@pytest.mark.parametrize(
    ("loop", "values"),
    [  # §5.1, §5.2
        ("~SEQ(K,-2)", ["-1", "-2"]),
        ("~SEQ(W,0)", ["1", "0"]),
        ("~SEQ(L,5,2)", ["5", "4", "3", "2"]),
        ("~SEQ(M,10,-3,1)", ["10", "7", "4", "1"]),
        ("~SEQ(P,0,1,0)", ["0"]),
        ("~SEQ(V, 010, 012)", ["8", "9", "10"]),
        ("~SEQ ( O , 1 , 2 )", ["1", "2"]),
        ("~SEQx(N,0x90,0x10,0xc0)", ["90", "a0", "b0", "c0"]),
        ("~LST(IP,1,2,3)", ["1", "2", "3"]),
        ("~LST(U,)", [""]),
        ("~LST({W},1,2)", ["1", "2"]),
    ],
)
def test_loops(tmp_path: Path, loop: str, values: list[str]) -> None:
    var = loop.split("(")[1].strip(" {").split(",")[0].strip(" }")
    lines, diags = read(tmp_path, f"{loop} router_id [${{{var}}}]\n")
    assert not diags.items
    assert lines == [("router_id", f"[{v}]") for v in values]


def test_nested_loops_and_lists(tmp_path: Path) -> None:
    lines, _ = read(tmp_path, "~SEQ(T,1,2) ~SEQ(U,1,2) router_id m${T}${U}\n")
    assert [w[1] for w in lines] == ["m11", "m12", "m21", "m22"]
    lines, _ = read(tmp_path, "~LST({IP,IP1},{10,1},{20,4}) router_id ${IP}.${IP1}\n")
    assert [w[1] for w in lines] == ["10.1", "20.4"]
    lines, _ = read(tmp_path, "~LST({P,Q},{1},{2,3}) router_id [${P}][${Q}]\n")
    assert [w[1] for w in lines] == ["[1][]", "[2][3]"]


def test_loop_over_a_multiline_definition(tmp_path: Path) -> None:
    text = "$VI=vrrp_instance v${N} { \\\nvirtual_router_id ${N} \\\n}\n~SEQ(N,1,2) $VI\n"
    lines, _ = read(tmp_path, text)
    assert [" ".join(w) for w in lines] == [
        "vrrp_instance v1", "{", "virtual_router_id 1", "}",
        "vrrp_instance v2", "{", "virtual_router_id 2", "}",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("loop", "message"),
    [
        ("~SEQ(X)", "Invalid ~SEQ definition '{}'"),
        ("~SEQ(Q,0,0,3)", "Invalid ~SEQ values '{}'"),
        ("~SEQx(Q,-1,3)", "~SEQx is only valid for positive numbers '{}'"),
        ("~LST(V,1,{2,3})", "~LST specification has too many values '{}'"),
        ("~LST(T)", "Invalid ~LST specification '{}'"),
    ],
)
def test_invalid_loops(tmp_path: Path, loop: str, message: str) -> None:
    lines, diags = read(tmp_path, f"{loop} router_id x\n")
    assert lines == []
    assert message.format(f"{loop} router_id x") in messages(diags)
    assert diags.exit_code() == 5


def test_include_relative_to_the_including_file(tmp_path: Path) -> None:  # §2.2
    extra = {
        "inc/main2.conf": "include sub/part1.conf\n",
        "inc/sub/part1.conf": "router_id one\ninclude part2.conf\n",
        "inc/sub/part2.conf": "router_id two\n",
    }
    lines, diags = read(tmp_path, "include inc/main2.conf\nrouter_id three\n", extra)
    assert lines == [("router_id", "one"), ("router_id", "two"), ("router_id", "three")]
    assert not diags.items


def test_include_globs_braces_and_blocks_across_files(tmp_path: Path) -> None:
    extra = {"g/a.conf": "router_id a\n", "g/b.conf": "router_id b\n}\n"}
    lines, _ = read(tmp_path, "global_defs {\ninclude g/{a,b}.conf\n", extra)
    assert lines == [("global_defs",), ("{",), ("router_id", "a"), ("router_id", "b"), ("}",)]
    lines, _ = read(tmp_path, "include g/*.conf\n", extra)
    assert lines[:2] == [("router_id", "a"), ("router_id", "b")]


@pytest.mark.parametrize(
    ("line", "message", "exit_code"),
    [  # §2.3: plain include only notes a missing file; the variants make it an error
        ("include none.conf", "Config files missing 'none.conf'.", 0),
        ("includem none.conf", "Config files missing 'none.conf'.", 6),
        ("includew g/*.none", "No config files matched 'g/*.none'.", 6),
        ("includeb g/{a,zz}.conf", 'Some config files missing: "g/{a,zz}.conf".', 6),
        ("includer g", "Configuration file 'g/' is a directory - skipping", 6),
        ("include g", "Configuration file 'g/' is a directory - skipping", 0),
    ],
)
def test_include_checks(tmp_path: Path, line: str, message: str, exit_code: int) -> None:
    _, diags = read(tmp_path, line + "\n", {"g/a.conf": "router_id a\n"})
    assert message in messages(diags)
    assert diags.exit_code() == exit_code


def test_include_loop_is_an_error_not_a_hang(tmp_path: Path) -> None:
    _, diags = read(tmp_path, "include main.conf\n")
    assert diags.worst is Severity.GENERAL_ERROR


def test_long_lines_are_read_in_chunks_as_keepalived_does(tmp_path: Path) -> None:  # §1.1
    lines, _ = read(tmp_path, "router_id a # " + "x" * 1100 + " badtoken\n")
    assert lines[0] == ("router_id", "a")
    assert lines[1][-1] == "badtoken"


def test_locations(tmp_path: Path) -> None:
    write(tmp_path, {"sub/x.conf": "\n\nbad_kw\n"})
    loaded = load(LocalFiles(), "main.conf", cwd=str(tmp_path), config_id="vm")
    write(tmp_path, {"main.conf": "global_defs {\n}\ninclude sub/x.conf\nalso_bad\n"})
    loaded = load(LocalFiles(), "main.conf", cwd=str(tmp_path), config_id="vm")
    assert [str(d) for d in loaded.diagnostics.items] == [
        f"{tmp_path}/sub/x.conf:3: error: Unknown keyword 'bad_kw'",
        "main.conf:4: error: Unknown keyword 'also_bad'",
    ]


def test_env_builtin_of_keepalived_2_4_is_read_with_a_warning(tmp_path: Path) -> None:
    write(tmp_path, {"main.conf": "router_id ${_ENV PYKAD_RID} ${_ENV PYKAD_NONE}x\n"})
    reader = Reader(LocalFiles(), "main.conf", str(tmp_path), "vm", environ={"PYKAD_RID": "r7"})
    assert [line.words for line in reader.lines()] == [("router_id", "r7", "x")]
    assert reader.diagnostics.worst is Severity.WARNING  # keepalived 2.2.7 -t: exit 5
