"""Where a daemon's pid files go and how it names itself in syslog, as keepalived 2.2.7.

Owns the names that ``-p``/``-r``/``-c``/``-b``, ``-s``, and the global keywords
``net_namespace``, ``instance`` and ``use_pid_dir`` give (keepalived's
core/main.c and core/namespaces.c):

- none of them: ``/run/keepalived.pid``, ``/run/vrrp.pid``, ``/run/checkers.pid``,
  ``/run/bfd.pid``;
- ``use_pid_dir``, ``instance`` or ``net_namespace``: the same names in
  ``/run/keepalived/``; ``instance NAME`` adds ``_NAME`` (``keepalived_NAME.pid``);
- ``net_namespace NS`` (or ``-s NS``, which wins over it, with keepalived's log
  line): the daemon takes a mount namespace of its own, in which
  ``/run/keepalived/NS`` is mounted on ``/run/keepalived``, so two daemons in
  two network namespaces keep apart; seen from outside, the pid files are in
  ``/run/keepalived/NS/``;
- ``instance`` or ``net_namespace``: each process's syslog ident gets ``_NS``
  then ``_NAME`` (``Keepalived_vrrp_blue_one``);
- a pid file named by a flag is used as it is.

The control sockets' directory follows the main pid file (``daemon.control``).
A reload cannot change the namespace or the instance name: the daemon refuses it
with keepalived's line (:func:`reload_refusal`).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import logging
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pykad.config.sections.global_defs import GlobalDefs
    from pykad.daemon.process import Options

log = logging.getLogger("pykad")

RUN_DIR = "/run"
PID_DIR = "/run/keepalived"
_CLONE_NEWNS = 0x00020000
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_SLAVE = 0x80000
_MNT_DETACH = 2


def resolve(opts: Options, defs: GlobalDefs) -> Options:
    """``opts`` with every pid file named and the namespace and instance settled, as
    keepalived 2.2.7 names them for these flags and global definitions."""
    namespace = opts.namespace or defs.net_namespace
    instance = opts.instance_name or defs.instance
    base = PID_DIR if namespace or instance or defs.use_pid_dir else RUN_DIR
    tail = f"_{instance}" if instance else ""

    def name(flag: str | None, stem: str) -> str:
        return flag or f"{base}/{stem}{tail}.pid"

    return dataclasses.replace(
        opts,
        pid_file=name(opts.pid_file, "keepalived"),
        vrrp_pid_file=name(opts.vrrp_pid_file, "vrrp"),
        checkers_pid_file=name(opts.checkers_pid_file, "checkers"),
        bfd_pid_file=name(opts.bfd_pid_file, "bfd"),
        namespace=namespace,
        instance_name=instance,
        settled=(defs.net_namespace, defs.instance),
    )


def main_pid_seen_from_outside(namespace: str | None, instance: str | None) -> str:
    """The main pid file of the daemon with this namespace and instance name, as a
    process outside its mount namespace finds it (``pykadctl -s NS --instance NAME``)."""
    directory = f"{PID_DIR}/{namespace}" if namespace else PID_DIR
    if not (namespace or instance):
        directory = RUN_DIR
    return f"{directory}/keepalived{f'_{instance}' if instance else ''}.pid"


def syslog_ident(opts: Options, program: str) -> str:
    """keepalived's syslog ident for ``program``: ``_NAMESPACE`` and ``_INSTANCE`` added."""
    return program + "".join(f"_{part}" for part in (opts.namespace, opts.instance_name) if part)


def override_line(opts: Options, defs: GlobalDefs) -> str | None:
    """keepalived's line when ``-s`` replaces the configuration's ``net_namespace``."""
    if opts.namespace and defs.net_namespace:
        return (
            f"Overriding config net_namespace '{defs.net_namespace}' with command line "
            f"namespace '{opts.namespace}'"
        )
    return None


def reload_refusal(opts: Options, defs: GlobalDefs) -> str | None:
    """keepalived's line refusing a reload whose configuration changes ``net_namespace``
    or ``instance`` (compared with the configuration the daemon started with)."""
    if opts.settled is None:
        return None
    namespace, instance = opts.settled
    if defs.net_namespace != namespace:
        return "Cannot change network namespace at a reload - please restart keepalived"
    if defs.instance != instance:
        return "Cannot change instance name at a reload - please restart keepalived"
    return None


def private_run_dir(namespace: str) -> bool:
    """Mount ``/run/keepalived/NAMESPACE`` on ``/run/keepalived`` in a mount namespace of
    this process's own (its children share it), as keepalived's ``set_run_mount``."""
    own = f"{PID_DIR}/{namespace}"
    try:
        os.makedirs(own, mode=0o755, exist_ok=True)
        os.chmod(own, 0o755)
    except OSError as e:
        log.info("Unable to create directory %s (%s)", own, e)
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        log.info("mount unshare failed (%d) '%s'", err, os.strerror(err))
        return False
    if libc.mount(b"", b"/", None, _MS_REC | _MS_SLAVE, None) != 0:
        log.info("Mount slave failed, error (%d) '%s'", *_errno())
    if libc.mount(own.encode(), PID_DIR.encode(), None, _MS_BIND, None) != 0:
        log.info("Mount failed, error (%d) '%s'", *_errno())
        return False
    return True


def remove_run_dirs(opts: Options, *, unmount: bool) -> None:
    """At stop, as keepalived: the namespace's directory unmounted (``unmount``: only
    if :func:`private_run_dir` mounted it) and removed, then ``/run/keepalived`` if
    nothing else is in it."""
    if unmount:
        ctypes.CDLL(None, use_errno=True).umount2(PID_DIR.encode(), _MNT_DETACH)
    if opts.namespace:
        _rmdir(f"{PID_DIR}/{opts.namespace}")
    if any(os.path.dirname(p or "") == PID_DIR for p in (opts.pid_file, opts.vrrp_pid_file)):
        _rmdir(PID_DIR)


def _rmdir(path: str) -> None:
    with contextlib.suppress(OSError):  # not empty: another daemon's, or the operator's
        os.rmdir(path)


def _errno() -> tuple[int, str]:
    err = ctypes.get_errno() or errno.EIO
    return err, os.strerror(err)
