"""VRRP first: the background re-reads wait while the VRRP child's reload mark is there."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from pykad.daemon import control, reload_order


def test_a_read_waits_for_the_vrrp_childs_mark_and_not_longer(tmp_path: Path) -> None:
    directory = str(tmp_path)
    assert reload_order.after_vrrp(directory) < 0.5  # no mark: only the settling time
    reload_order.mark(directory)
    threading.Timer(0.2, reload_order.unmark, (directory,)).start()
    waited = reload_order.after_vrrp(directory)
    assert 0.2 <= waited < 1.0
    assert not os.path.exists(os.path.join(directory, reload_order.MARK))


def test_a_mark_left_by_a_process_that_is_gone_is_not_waited_for(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    (tmp_path / reload_order.MARK).write_text(gone.stdout)
    start = time.monotonic()
    reload_order.after_vrrp(str(tmp_path))
    assert time.monotonic() - start < 0.5


def test_the_mark_goes_with_the_block_and_with_the_run_directory(tmp_path: Path) -> None:
    directory = str(tmp_path)
    try:
        with reload_order.reloading(directory):
            assert os.path.exists(os.path.join(directory, reload_order.MARK))
            raise RuntimeError
    except RuntimeError:
        pass
    assert not os.listdir(directory)
    reload_order.mark(directory)
    control.clear_dir(directory)
    assert not os.listdir(directory)
    assert reload_order.after_vrrp(None) == 0.0  # no run directory: nobody waits
