"""The IPVS VM lab: run commands, or a whole pytest session, as root inside a QEMU guest.

The host kernel has no IPVS, so tests that need it boot Debian's kernel under QEMU
with ``ipvs-vm.sh`` (beside this file; a copy of the lab's script, see
``/work/shared/lab/README.md``).  The guest sees the host's ``/`` read-only with a
tmpfs overlay on top (writes succeed but vanish), the ``cwd`` of the call (see
:func:`run_pytest_in_vm` for its exception) plus any ``rwdirs`` shared read-write at
the same paths, and ``ip_vs`` loaded.  Everything a
command creates in the guest (namespaces, IPVS services, processes) dies with it.

This module owns:

- :func:`vm_available` - can the VM lab run here? ``(ok, why)`` for ``lab.need.need``;
  :func:`need_vm` calls it for you (and always just skips inside the guest);
- :func:`run_in_vm` - one boot, one command, its exit code, stdout and stderr;
- :func:`run_pytest_in_vm` - one boot running pytest with the venv's interpreter
  (the way to run a whole IPVS test module: Python starts are 17-25x slower in the
  guest, so do as much as possible per boot);
- :func:`in_vm` - are we the guest? (so a test module run by
  :func:`run_pytest_in_vm` does its work directly instead of booting another VM).

Exit codes of the script: the command's own, 124 when the guest timed out, 125 when
the VM failed (the guest console's tail is then on stderr).  The QEMU process never
outlives a call: the script gets the timeout too, and on our own deadline, an error
or Ctrl-C the whole process tree under the script is killed by pid.
"""

from __future__ import annotations

import contextlib
import glob
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

IPVS_VM_SH = Path(__file__).resolve().with_name("ipvs-vm.sh")
"""The boot script; run on the host with the command to run in the guest."""

DEFAULT_TIMEOUT = 300.0
"""Seconds for one boot (a bare boot takes ~5 s here; IPVS tests ~10-60 s)."""

EXIT_TIMEOUT = 124
EXIT_VM_FAILURE = 125

GUEST_SKIPPED_PLUGINS = ("hypothesispytest", "benchmark", "xdist", "xdist.looponfail")
"""Plugins :func:`run_pytest_in_vm` turns off by default: loading them costs ~15 s in
the guest (``import pytest`` alone takes ~5.5 s there, half of it 9p reads).
Hypothesis itself still works in a test without its plugin; pass
``skip_plugins=()`` to a run that needs the ``benchmark`` fixture."""

_GRACE = 20.0  # seconds the script gets beyond its own timeout before we kill it
_TERM_WAIT = 5.0  # seconds between SIGTERM to the script and SIGKILL to its tree

# Variables of the outer pytest that must not leak into a pytest run in the guest.
_PYTEST_ENV_DROP = re.compile(r"^(PYTEST_CURRENT_TEST|PYTEST_ADDOPTS|PYTEST_XDIST_\w+)$")


def in_vm() -> bool:
    """True inside the guest (``ipvs-vm.sh`` sets ``IPVS_VM=1`` for the command)."""
    return os.environ.get("IPVS_VM") == "1"


def find_kernel() -> str | None:
    """The kernel version the script would boot: ``IPVS_VM_KVER`` or the newest
    ``/boot/vmlinuz-*`` whose ``ip_vs.ko*`` module exists; None if there is none."""
    wanted = os.environ.get("IPVS_VM_KVER")
    if wanted:
        versions = [wanted]
    else:
        found = [p.removeprefix("/boot/vmlinuz-") for p in glob.glob("/boot/vmlinuz-*")]
        versions = sorted(found, key=_version_key, reverse=True)
    for kver in versions:
        if glob.glob(f"/lib/modules/{kver}/kernel/net/netfilter/ipvs/ip_vs.ko*"):
            return kver
    return None


def _version_key(kver: str) -> list[tuple[int, str]]:
    """Sort key close to ``sort -V``: numbers numerically, the rest as text."""
    return [(int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"(\d+)", kver) if p]


def vm_available() -> tuple[bool, str]:
    """Can the VM lab run here?  ``(True, "")`` or ``(False, reason)``."""
    if in_vm():
        return False, "already inside the IPVS VM (no nested VM)"
    if os.geteuid() != 0:
        return False, "the IPVS VM needs root"
    if not os.access(IPVS_VM_SH, os.R_OK):
        return False, f"{IPVS_VM_SH} is missing"
    for prog, pkg in (
        ("bash", "bash"),
        ("qemu-system-x86_64", "qemu-system-x86"),
        ("busybox", "busybox-static"),
        ("modprobe", "kmod"),
        ("cpio", "cpio"),
        ("gzip", "gzip"),
        ("timeout", "coreutils"),
    ):
        if shutil.which(prog) is None:
            return False, f"the IPVS VM needs {prog} (apt-get install {pkg})"
    kver = find_kernel()
    if kver is None:
        return False, (
            "the IPVS VM needs a /boot/vmlinuz-* with /lib/modules/<kver>/kernel/net/"
            "netfilter/ipvs/ip_vs.ko* (apt-get install linux-image-amd64)"
        )
    if not os.access(f"/boot/vmlinuz-{kver}", os.R_OK):
        return False, f"/boot/vmlinuz-{kver} is not readable"
    return True, ""


def need_vm() -> None:
    """Skip (or fail with ``PYKAD_STRICT_LABS=1``) unless the VM lab can run here.

    Inside the guest it always skips: a test that boots the VM has nothing to do
    when a whole test folder is run there by :func:`run_pytest_in_vm`."""
    import pytest

    from lab.need import need

    if in_vm():
        pytest.skip("boots the IPVS VM itself; not run inside it")
    need(*vm_available())


def run_in_vm(
    command: str | Sequence[str],
    *,
    cwd: Path,
    timeout: float = DEFAULT_TIMEOUT,
    rwdirs: Sequence[Path] = (),
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Boot the VM, run ``command`` as root in ``cwd`` inside it, return the result.

    ``command`` is a bash script when a string, else an argv.  ``cwd`` and ``rwdirs``
    are shared read-write at the same paths (everything else is read-only with a
    throw-away overlay).  ``env`` is added to this process's environment, which the
    guest command inherits (``IPVS_VM_*`` knobs of ``ipvs-vm.sh`` work here too).
    ``timeout`` bounds the whole boot: the guest is then stopped and ``returncode``
    is 124.  Never raises for a failing command; check ``returncode``.
    """
    argv = ["bash", "-c", command] if isinstance(command, str) else list(command)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return _run(argv, cwd=cwd, timeout=timeout, rwdirs=rwdirs, env=full_env)


def venv_python() -> Path:
    """The interpreter for the guest: this venv's ``bin/python`` (not resolved, or
    Python would not find the venv's ``pyvenv.cfg``), checked to be a real binary
    and not a pyenv shim, which costs ~11 s per start in the guest."""
    prefix = Path(sys.prefix)
    python = prefix / "bin" / "python" if sys.prefix != sys.base_prefix else None
    if python is None or not python.exists():
        python = Path(sys.executable)
    target = python.resolve()
    with target.open("rb") as f:
        magic = f.read(4)
    if magic != b"\x7fELF":
        raise RuntimeError(f"{python} resolves to {target}, a script (a shim?), not a binary")
    return python


def run_pytest_in_vm(
    args: Sequence[str],
    *,
    cwd: Path,
    junit_xml: Path,
    timeout: float = DEFAULT_TIMEOUT,
    rwdirs: Sequence[Path] = (),
    env: Mapping[str, str] | None = None,
    python: Path | None = None,
    skip_plugins: Sequence[str] = GUEST_SKIPPED_PLUGINS,
    share_cwd: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -P -m pytest ARGS --junitxml=JUNIT_XML`` in one boot, in ``cwd``.

    ``python`` defaults to :func:`venv_python`; ``-P`` keeps ``cwd`` off ``sys.path``
    so the checkout's ``pykad/`` does not shadow the installed package.  The cache
    provider is off (the guest would overwrite the host's ``.pytest_cache``), and the
    outer pytest's ``PYTEST_ADDOPTS``/``PYTEST_CURRENT_TEST`` do not leak in, and the
    ``skip_plugins`` (see :data:`GUEST_SKIPPED_PLUGINS`) are not loaded.  The
    interpreter's folder leads ``PATH``, so ``python3`` and ``pykad`` are the venv's.
    ``junit_xml``'s folder and ``rwdirs`` are shared read-write; read the report after
    the call.  ``cwd`` (the checkout) is read-only in the guest unless ``share_cwd``:
    a read-write share is uncached, which doubles the cost of every import from it,
    e.g. from a venv inside the checkout (``import pytest`` 6.3 s instead of 3.1 s).
    Inside, :func:`in_vm` is true.  Exit codes are pytest's, or 124/125 as in
    :func:`run_in_vm`.
    """
    py = python if python is not None else venv_python()
    junit_xml = junit_xml.absolute()
    junit_xml.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        str(py),
        "-P",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        *(arg for name in skip_plugins for arg in ("-p", f"no:{name}")),
        f"--junitxml={junit_xml}",
        *args,
    ]
    full_env = {k: v for k, v in os.environ.items() if not _PYTEST_ENV_DROP.match(k)}
    full_env["PYTHONDONTWRITEBYTECODE"] = "1"  # most of / is a throw-away overlay
    # "python3" on the caller's PATH may be a pyenv shim (~11 s per start in the guest)
    full_env["PATH"] = os.pathsep.join([str(py.parent), full_env.get("PATH", os.defpath)])
    if env:
        full_env.update(env)
    if not share_cwd:  # start the script in a rw dir, and cd in the guest
        argv = ["bash", "-c", 'cd -- "$1" && shift && exec "$@"', "lab.vm", str(cwd), *argv]
    return _run(
        argv,
        cwd=cwd if share_cwd else junit_xml.parent,
        timeout=timeout,
        rwdirs=[*rwdirs, junit_xml.parent],
        env=full_env,
    )


def _run(
    argv: list[str],
    *,
    cwd: Path,
    timeout: float,
    rwdirs: Sequence[Path],
    env: dict[str, str],
) -> subprocess.CompletedProcess[str]:
    dirs = [str(Path(d).resolve()) for d in rwdirs]
    if env.get("IPVS_VM_RWDIRS"):
        dirs.append(env["IPVS_VM_RWDIRS"])
    env["IPVS_VM_RWDIRS"] = ":".join(dirs)
    env["IPVS_VM_TIMEOUT"] = str(max(1, math.ceil(timeout)))
    full_argv = ["bash", str(IPVS_VM_SH), *argv]
    proc = subprocess.Popen(
        full_argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,  # our signals (Ctrl-C) reach the script only via us
    )
    try:
        out, err = proc.communicate(timeout=timeout + _GRACE)
    except subprocess.TimeoutExpired:
        _stop_tree(proc)
        out, err = proc.communicate()
        err += f"\nlab.vm: ipvs-vm.sh did not finish within {timeout + _GRACE:.0f}s; killed\n"
        return subprocess.CompletedProcess(full_argv, EXIT_TIMEOUT, out, err)
    except BaseException:
        _stop_tree(proc)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(full_argv, proc.returncode, out, err)


def _stop_tree(proc: subprocess.Popen[str]) -> None:
    """SIGTERM the script (its trap stops QEMU), then SIGKILL whatever is left.

    ``timeout(1)`` puts QEMU in a process group of its own, so we walk the tree by
    parent pid instead of signalling groups; the tree is read before each signal,
    while the orphans still hang below the script."""
    tree = _descendants(proc.pid)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(_TERM_WAIT)
    deadline = time.monotonic() + _TERM_WAIT
    for pid in tree:  # QEMU exits on its own soon after the script's trap killed it
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    tree = [pid for pid in tree if _alive(pid)]
    if proc.poll() is None:  # (once reaped, its pid may belong to someone else)
        tree += _descendants(proc.pid)
    proc.kill()  # a no-op once it has been reaped
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def _descendants(root: int) -> list[int]:
    """All processes below ``root`` (by parent pid), parents first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop(0)
        for child in children.get(pid, []):
            found.append(child)
            todo.append(child)
    return found
