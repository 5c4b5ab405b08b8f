"""How the daemon's processes read a configuration again: the cyclic collector paused,
the checker's and BFD's reads at a lower CPU priority, the interfaces listed once."""

from __future__ import annotations

import gc
import os
import socket
import threading

from pykad.daemon import process
from pykad.daemon.memory import collector_paused
from pykad.drivers.host import LocalHost


def test_the_collector_is_paused_while_reading_and_back_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # a second read at the same time
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_background_read_runs_niced_in_its_thread_only() -> None:
    seen: dict[str, int] = {}

    def read() -> None:
        tid = threading.get_native_id()
        seen["before"] = os.getpriority(os.PRIO_PROCESS, tid)
        with process._lower_priority(True):
            seen["during"] = os.getpriority(os.PRIO_PROCESS, tid)
            seen["main"] = os.getpriority(os.PRIO_PROCESS, main)
        seen["after"] = os.getpriority(os.PRIO_PROCESS, tid)

    main = threading.get_native_id()
    before_main = os.getpriority(os.PRIO_PROCESS, main)
    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    lowered = min(seen["before"] + process.BACKGROUND_NICE, 19)
    # root can put the thread back; others leave it as it is rather than stay niced
    assert seen["during"] == (lowered if os.geteuid() == 0 else seen["before"])
    assert seen["after"] == seen["before"]
    assert seen["main"] == before_main


def test_interfaces_are_listed_once() -> None:
    host = LocalHost()
    first = socket.if_nameindex()[0][1]
    assert host.interface_exists(first)
    assert "_interfaces" in host.__dict__
    assert not host.interface_exists("pykad-no-such0")
