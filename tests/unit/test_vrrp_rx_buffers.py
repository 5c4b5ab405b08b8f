"""The VRRP receive buffer sizes: keepalived's sum per socket, pykad's floor."""

from __future__ import annotations

from pykad.config.sections._global_model import RxBufsPolicy
from pykad.vrrp.rx_buffers import FLOOR_PER_INSTANCE, Reader, configured_size, floor_size

PLAIN = Reader(kernel_rx_buf_size=0, advert_len=40, mtu=1500)
OWN = Reader(kernel_rx_buf_size=100_000, advert_len=40, mtu=1500)


def test_nothing_configured_is_zero_whatever_the_multiplier() -> None:
    assert configured_size(None, 0, 3, [PLAIN, PLAIN]) == 0


def test_each_policy_adds_per_instance() -> None:
    assert configured_size(RxBufsPolicy.SIZE, 50_000, 3, [PLAIN, PLAIN]) == 100_000
    assert configured_size(RxBufsPolicy.ADVERT, 0, 3, [PLAIN, PLAIN]) == 2 * 3 * 40
    assert configured_size(RxBufsPolicy.MTU, 0, 5, [PLAIN]) == 5 * 1500


def test_an_instances_own_size_wins_over_the_policy() -> None:
    assert configured_size(None, 0, 3, [OWN, PLAIN]) == 100_000
    assert configured_size(RxBufsPolicy.MTU, 0, 2, [OWN, PLAIN]) == 100_000 + 2 * 1500


def test_the_floor_grows_with_the_instances() -> None:
    assert floor_size(1) == FLOOR_PER_INSTANCE
    assert floor_size(250) == 250 * FLOOR_PER_INSTANCE
