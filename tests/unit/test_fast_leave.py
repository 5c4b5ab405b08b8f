"""The stop signal's fast paths, both twins (``pykad.drivers.fast``: leave_*, relay_*).

The leave handler sends a stopping VRRP process's priority-0 bursts from the
signal's handler, once, and passes the signal on to the handler that was there
before; no other advert follows them (``send_begin``/``send_end``: a send that
the signal interrupts goes first, they right after it; once they went, the
others are not sent, the pump's either). The relay handler (the
daemon's parent) sends SIGTERM on to the VRRP child and tells its own process
with a signal its loop waits for, sent to the thread that waits. SIGUSR2 stands for the stop signal
here; every test puts the handlers back as they were.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from types import FrameType, ModuleType
from typing import Any

import pytest
import trio

from pykad.drivers import fast_py

try:
    from pykad._fastpath import vrrp_fast as fast_cy
except ImportError:  # pragma: no cover - a checkout that was not built
    fast_cy = None

TWINS = [pytest.param(fast_py, id="py"), pytest.param(fast_cy, id="cy")]
STOP = signal.SIGUSR2
NOTE = signal.SIGRTMIN + 8


@pytest.fixture(params=TWINS)
def impl(request: pytest.FixtureRequest) -> Iterator[ModuleType]:
    module: ModuleType | None = request.param
    assert module is not None, "the compiled module is missing: pip install . builds it"
    before = signal.getsignal(STOP)
    yield module
    module.leave_uninstall()
    module.relay_uninstall()
    signal.signal(STOP, before)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    writer, reader = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    reader.setblocking(False)
    yield writer, reader
    writer.close()
    reader.close()


def received(reader: socket.socket) -> list[bytes]:
    out = []
    while True:
        try:
            out.append(reader.recv(64))
        except BlockingIOError:
            return out


def bursts(impl: ModuleType, fd: int, *groups: tuple[bytes, ...]) -> list[Any]:
    out = []
    for group in groups:
        burst = impl.Burst()
        for data in group:
            burst.add(fd, data)
        out.append(burst)
    return out


def zero_ready(impl: ModuleType, fd: int, handler: Any = lambda n, _: None) -> None:
    """Python's ``handler`` on STOP, the leave handler in front, and one burst, b"zero",
    made ready by a LeaveWatch as the loop's wait would."""
    signal.signal(STOP, handler)
    impl.leave_install([STOP])
    impl.LeaveWatch(lambda: impl.leave_set(bursts(impl, fd, (b"zero",)))).before_io_wait(0.0)


def test_sent_once_when_ready_then_passed_on(
    impl: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    writer, reader = pair
    got: list[int] = []
    signal.signal(STOP, lambda n, _: got.append(n))
    impl.leave_install([STOP])
    assert impl.leave_installed(STOP)
    made = bursts(impl, writer.fileno(), (b"vi1",), (b"vi2-a", b"vi2-b"))
    watch = impl.LeaveWatch(lambda: impl.leave_set(made))

    os.kill(os.getpid(), STOP)  # not made ready yet: nothing is sent
    assert got == [STOP] and impl.leave_results() is None and received(reader) == []

    watch.before_io_wait(0.0)  # ready() sets the bursts
    with pytest.raises(RuntimeError):
        made[0].add(writer.fileno(), b"x")  # held while the handler may send it
    os.kill(os.getpid(), STOP)
    assert got == [STOP, STOP]
    assert impl.leave_results() == [0, 0, 0]
    assert received(reader) == [b"vi1", b"vi2-a", b"vi2-b"]

    os.kill(os.getpid(), STOP)  # once only
    assert got == [STOP] * 3 and received(reader) == []
    impl.leave_set([])  # no change once sent: its results stay
    assert impl.leave_results() == [0, 0, 0]


def test_a_signal_during_another_send_sends_them_right_after_it(
    impl: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    writer, reader = pair
    got: list[int] = []
    zero_ready(impl, writer.fileno(), lambda n, _: got.append(n))
    assert impl.send_begin()
    os.kill(os.getpid(), STOP)  # the handler ran (and passed it on) but left them
    assert got == [STOP] and impl.leave_results() is None and received(reader) == []
    writer.send(b"advert")
    impl.send_end()
    assert impl.leave_results() == [0] and received(reader) == [b"advert", b"zero"]
    assert impl.send_begin() is False  # none after them
    os.kill(os.getpid(), STOP)  # once only
    assert got == [STOP, STOP] and received(reader) == []


def test_without_a_signal_a_send_is_just_a_send(
    impl: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    writer, reader = pair
    zero_ready(impl, writer.fileno())
    for _ in range(2):
        assert impl.send_begin()
        impl.send_end()
    assert impl.leave_results() is None and received(reader) == []
    os.kill(os.getpid(), STOP)  # not busy: the handler sends them itself
    assert impl.leave_results() == [0] and received(reader) == [b"zero"]


def test_the_pump_sends_nothing_after_them(
    impl: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    """On an AF_UNIX socket the pump's sends fail (errors() counts the attempts)."""
    writer, reader = pair
    zero_ready(impl, writer.fileno())
    tx = impl.TxPump()
    advert = bytes([0x31, 51, 100, 1, 0, 100, 0, 0]) + bytes(4)
    tx.arm(51, writer.fileno(), 4, [(advert, bytes([224, 0, 0, 18]), b"")], 1_000, 1_000)
    assert tx.send_due(1_000) == 2_000 and tx.errors(51) == 1
    os.kill(os.getpid(), STOP)
    assert received(reader) == [b"zero"]
    assert tx.send_due(2_000) == 3_000 and tx.errors(51) == 1  # on schedule, not sent


def test_a_mark_stops_it_until_ready_has_run_again(
    impl: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    writer, reader = pair
    signal.signal(STOP, lambda n, _: None)
    impl.leave_install([STOP])
    calls: list[list[Any]] = []
    content = [bursts(impl, writer.fileno(), (b"old",)), bursts(impl, writer.fileno(), (b"new",))]

    def ready() -> None:
        calls.append(content[len(calls)])
        impl.leave_set(calls[-1])

    watch = impl.LeaveWatch(ready)
    watch.before_io_wait(0.0)
    watch.before_io_wait(0.0)  # not stale: ready() is not called again
    assert len(calls) == 1
    watch.mark()  # e.g. a master became backup: "old" must not go
    os.kill(os.getpid(), STOP)
    assert impl.leave_results() is None and received(reader) == []
    watch.before_io_wait(0.0)
    assert len(calls) == 2
    content[0][0].add(writer.fileno(), b"free again")
    os.kill(os.getpid(), STOP)
    assert impl.leave_results() == [0] and received(reader) == [b"new"]


def test_a_failed_send_is_its_errno(
    impl: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    writer, reader = pair
    spare, other = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    closed = spare.fileno()
    made = bursts(impl, closed, (b"lost",))
    spare.close()
    other.close()
    made += bursts(impl, writer.fileno(), (b"sent",))
    signal.signal(STOP, lambda n, _: None)
    impl.leave_install([STOP])
    impl.LeaveWatch(lambda: impl.leave_set(made)).before_io_wait(0.0)
    os.kill(os.getpid(), STOP)
    results = impl.leave_results()
    assert results is not None and results[0] != 0 and results[1] == 0
    assert received(reader) == [b"sent"]


def test_no_handler_to_pass_it_on_to(impl: ModuleType) -> None:
    signal.signal(STOP, signal.SIG_DFL)
    with pytest.raises(OSError):
        impl.leave_install([STOP])
    assert not impl.leave_installed(STOP)


def test_uninstall_puts_the_handler_back(impl: ModuleType) -> None:
    def mine(n: int, frame: FrameType | None) -> None:
        pass

    signal.signal(STOP, mine)
    impl.leave_install([STOP])
    impl.leave_install([STOP])  # twice is once
    impl.leave_uninstall()
    assert not impl.leave_installed(STOP) and signal.getsignal(STOP) is mine


def test_in_a_trio_loop_the_handler_sends_and_trio_still_gets_the_signal(
    impl: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    writer, reader = pair
    made = bursts(impl, writer.fileno(), (b"priority 0",))
    seen: list[int] = []

    async def main() -> None:
        watch = impl.LeaveWatch(lambda: impl.leave_set(made))
        trio.lowlevel.add_instrument(watch)
        with trio.open_signal_receiver(STOP) as signals:
            impl.leave_install([STOP])  # in front of trio's handler
            threading.Timer(0.05, os.kill, (os.getpid(), STOP)).start()
            async for signum in signals:  # trio still gets it
                seen.append(signum)
                break
        trio.lowlevel.remove_instrument(watch)

    trio.run(main)
    assert seen == [STOP]
    assert impl.leave_results() == [0] and received(reader) == [b"priority 0"]


@pytest.fixture
def note_blocked() -> Iterator[None]:
    old = signal.pthread_sigmask(signal.SIG_BLOCK, [NOTE])
    yield
    while signal.sigtimedwait([NOTE], 0) is not None:
        pass
    signal.pthread_sigmask(signal.SIG_SETMASK, old)


def test_the_relay_sends_sigterm_on_then_tells_its_own_process(
    impl: ModuleType, note_blocked: None
) -> None:
    got: list[int] = []
    signal.signal(STOP, lambda n, _: got.append(n))
    child = subprocess.Popen(["sleep", "30"])
    try:
        impl.relay_install([STOP], NOTE)
        os.kill(os.getpid(), STOP)  # relay to nowhere yet: only the note
        info = signal.sigtimedwait([NOTE], 2)
        assert info is not None and info.si_pid == os.getpid()
        assert impl.relay_taken() == 0 and child.poll() is None

        impl.relay_to(child.pid)
        os.kill(os.getpid(), STOP)
        info = signal.sigtimedwait([NOTE], 2)
        assert info is not None and info.si_pid == os.getpid()
        assert child.wait(timeout=5) == -signal.SIGTERM
        assert impl.relay_taken() == child.pid and impl.relay_taken() == 0
    finally:
        child.kill()
        child.wait()
    impl.relay_uninstall()  # the handler that was there before is back
    os.kill(os.getpid(), STOP)
    assert got == [STOP] and signal.sigtimedwait([NOTE], 0) is None


def test_a_forked_child_that_kept_the_relay_handler_gets_the_signal_as_before(
    impl: ModuleType, note_blocked: None
) -> None:
    target = subprocess.Popen(["sleep", "30"])
    try:
        signal.signal(STOP, signal.SIG_DFL)
        impl.relay_install([STOP], NOTE)
        impl.relay_to(target.pid)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                os.kill(os.getpid(), STOP)
                for _ in range(100):  # the Python twin's handler runs between bytecodes
                    pass
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == STOP
        assert target.poll() is None and signal.sigtimedwait([NOTE], 0) is None
    finally:
        target.kill()
        target.wait()
