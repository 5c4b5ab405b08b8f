"""Drain / undrain of a real server at run time (``pykadctl drain``), against a fake IPVS.

A drained real server gets weight 0 in IPVS (one edit), whatever its checkers
say; undrain gives it the weight its pool says (one edit); a reload forgets
the drain.  The control socket's ``drain`` reply and ``status`` say the same.
"""

from __future__ import annotations

from pathlib import Path

import trio
from unit.test_check_service import (
    FakeIpvs,
    config,
    dest_weights,
    free_ports,
    listen,
    trio_test,
    vs_block,
    wait_for,
)

from pykad.daemon import status
from pykad.daemon.check_service import CheckService
from pykad.lb import plan


@trio_test
async def test_drain_sets_weight_zero_until_undrain_or_reload(tmp_path: Path) -> None:
    a, b = free_ports(2)
    la, lb = await listen(a), await listen(b)
    cfg = config(tmp_path, vs_block([a, b]))
    ipvs = FakeIpvs()
    service = CheckService(cfg, ipvs, rand=lambda: 0.0)
    handle = status.check_commands(service)
    async with trio.open_nursery() as nursery:
        await nursery.start(service.run)
        assert dest_weights(ipvs) == {a: 1, b: 2}
        before = len(ipvs.written)

        reply = handle({"cmd": "drain", "address": "127.0.0.1", "port": b})
        assert reply["ok"] and len(reply["done"]) == 1, reply
        assert dest_weights(ipvs) == {a: 1, b: 0}
        assert [type(op) for op in ipvs.written[before:]] == [plan.EditDest]
        rs = status.check_status(service)["virtual_servers"][0]["real_servers"]
        assert [(r["port"], r["drained"], r["ipvs_weight"]) for r in rs] == [
            (a, False, 1),
            (b, True, 0),
        ]
        # the checkers run on and see it healthy: it stays at 0
        await trio.sleep(0.5)
        assert dest_weights(ipvs) == {a: 1, b: 0}

        assert handle({"cmd": "undrain", "address": "127.0.0.1", "port": b})["ok"]
        assert dest_weights(ipvs) == {a: 1, b: 2}

        # unknown real server, bad requests
        assert not handle({"cmd": "drain", "address": "127.0.0.1", "port": 1})["ok"]
        assert not handle({"cmd": "drain", "address": "nonsense", "port": b})["ok"]
        assert not handle({"cmd": "drain", "address": "127.0.0.1"})["ok"]

        # a reload forgets the drain
        handle({"cmd": "drain", "address": "127.0.0.1", "port": a})
        assert dest_weights(ipvs) == {a: 0, b: 2}
        await service.reload(config(tmp_path, vs_block([a, b])))
        assert service.drained == set()
        assert dest_weights(ipvs) == {a: 1, b: 2}

        # a drained server that fails its check leaves, and comes back at 0
        handle({"cmd": "drain", "address": "127.0.0.1", "port": b})
        await lb.aclose()
        await wait_for(lambda: dest_weights(ipvs) == {a: 1})
        lb = await listen(b)
        await wait_for(lambda: dest_weights(ipvs) == {a: 1, b: 0})
        await lb.aclose()
        await la.aclose()
        nursery.cancel_scope.cancel()
