"""The VRRP service alone, as a daemon for namespace tests: SIGHUP reloads it, SIGTERM stops it.

Run inside a namespace with keepalived's flags (``-f CONF -p PIDFILE``; the
others are accepted and ignored) so that ``lab.keepalived.Keepalived`` runs it
like keepalived and pykad (``program=(sys.executable, HARNESS)``, ``expect=()``).
It wires ``pykad.daemon.vrrp_service.VrrpService`` the way the VRRP process
does, with the reload wiring the VRRP process is to get: on SIGHUP the config
is read again, a config with errors is refused (the running one is kept), and
``VrrpService.reload`` applies a good one. Log lines go to stderr, one per line.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

import trio

from pykad.config.diagnostics import Severity
from pykad.config.load import load
from pykad.config.model import Config
from pykad.daemon.vrrp_service import VrrpService
from pykad.drivers.files import LocalFiles
from pykad.drivers.host import LocalHost, LocalScriptHost
from pykad.drivers.notify import Notifier, default_script_user, vrrp_fifos
from pykad.kernel.netlink import NetlinkBatchWriter

HARNESS = str(Path(__file__).resolve())
log = logging.getLogger("pykad.harness")


def read_config(path: str, config_id: str | None, *, reload: bool) -> Config | None:
    """As the daemon's ``load_config``: None if it cannot run (with ``reload``: any error)."""
    loaded = load(
        LocalFiles(),
        path,
        cwd=os.getcwd(),
        config_id=config_id or "",
        host=LocalHost(),
        script_host=LocalScriptHost(),
        environ=os.environ,
    )
    for item in loaded.diagnostics.items:
        log.warning("%s", item)
    if loaded.config is None or loaded.diagnostics.stopped:
        return None
    if reload and any(
        Severity.OK < d.severity <= Severity.GENERAL_ERROR for d in loaded.diagnostics.items
    ):
        return None
    assert isinstance(loaded.config, Config)
    return loaded.config


async def serve(path: str, config_id: str | None) -> int:
    config = read_config(path, config_id, reload=False)
    if config is None:
        return 1
    notifier = Notifier(
        vrrp_fifos(config.global_defs), default_user=default_script_user(config.global_defs)
    )
    with NetlinkBatchWriter() as netlink:
        service = VrrpService(config, netlink, notifier=notifier)
        service.setup()
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async with trio.open_nursery() as nursery:
                await nursery.start(service.run)
                log.info("Startup complete")
                async for signum in signals:
                    if signum == signal.SIGHUP:
                        log.info("Reloading")
                        new = read_config(path, config_id, reload=True)
                        if new is None:
                            log.info("Reload refused: the running configuration is kept")
                        else:
                            service.reload(new)
                        log.info("Reload complete")
                        continue
                    log.info("Stopping")
                    service.stop()
                    break
    log.info("Stopped")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-f", required=True)
    parser.add_argument("-p")
    for flag in ("-r", "-c", "-b", "-i"):
        parser.add_argument(flag)
    args, _ = parser.parse_known_args()
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG,
        format="%(asctime)s.%(msecs)03d %(message)s",
        datefmt="%H:%M:%S",
    )
    if args.p:
        Path(args.p).write_text(f"{os.getpid()}\n")
    try:
        return trio.run(serve, args.f, args.i)
    finally:
        if args.p:
            Path(args.p).unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
