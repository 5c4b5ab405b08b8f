"""The reload plan: what a reload leaves alone, changes in place, rebuilds, adds, removes."""

from __future__ import annotations

import dataclasses
from ipaddress import ip_address, ip_interface
from pathlib import Path

from pykad.config.build import NoHost
from pykad.config.iproute import IpAddress
from pykad.config.load import load
from pykad.config.model import Config
from pykad.config.scripts import Script
from pykad.config.sections._global_model import GlobalDefs, Nftables
from pykad.config.sections._vrrp_model import (
    SyncGroup,
    Tracked,
    UnicastPeer,
    VrrpConfig,
    VrrpInstance,
    VrrpScript,
)
from pykad.config.sections.static import StaticConfig
from pykad.drivers.files import LocalFiles
from pykad.vrrp.reload_plan import Change, HostDiff, plan_reload


class Eth0(NoHost):
    def interface_exists(self, name: str) -> bool:
        return name == "eth0"


def vip(text: str, **options: object) -> IpAddress:
    return IpAddress(address=ip_interface(text), **options)  # type: ignore[arg-type]


def inst(name: str = "VI_1", vrid: int = 51, **fields: object) -> VrrpInstance:
    fields.setdefault("virtual_ipaddresses", (vip("192.0.2.10/24"),))
    return VrrpInstance(name=name, vrid=vrid, interface="eth0", **fields)  # type: ignore[arg-type]


def config(*instances: VrrpInstance, **vrrp: object) -> Config:
    return Config(vrrp=VrrpConfig(instances=instances, **vrrp))  # type: ignore[arg-type]


TWO = (inst("VI_1", 51), inst("VI_2", 52, virtual_ipaddresses=(vip("192.0.2.20/24"),)))


def changes(old: Config, new: Config) -> dict[str, Change]:
    return {p.new.name: p.change for p in plan_reload(old, new).matched}


def test_the_same_configuration_changes_nothing() -> None:
    plan = plan_reload(config(*TWO), config(*TWO))
    assert plan.empty
    assert changes(config(*TWO), config(*TWO)) == {
        "VI_1": Change.UNCHANGED,
        "VI_2": Change.UNCHANGED,
    }
    assert not plan.added and not plan.removed and plan.static.empty


def test_a_priority_change_is_made_in_place_and_touches_no_address() -> None:
    new = config(dataclasses.replace(TWO[0], priority=150), TWO[1])
    plan = plan_reload(config(*TWO), new)
    (p1, p2) = plan.matched
    assert (p1.change, p2.change) == (Change.IN_PLACE, Change.UNCHANGED)
    assert p1.priority_changed and not p1.advert_changed
    assert p1.host.empty
    assert p1.reasons == ("priority",)


def test_a_vip_added_to_one_instance_adds_only_that_address() -> None:
    added = vip("192.0.2.11/24")
    new = config(
        dataclasses.replace(TWO[0], virtual_ipaddresses=(vip("192.0.2.10/24"), added)), TWO[1]
    )
    p1, p2 = plan_reload(config(*TWO), new).matched
    assert p1.change is Change.IN_PLACE and p2.change is Change.UNCHANGED
    assert p1.host == HostDiff(add_addresses=(added,))
    assert p1.advert_changed


def test_a_vip_removed_from_one_instance_removes_only_that_address() -> None:
    old = config(
        dataclasses.replace(
            TWO[0], virtual_ipaddresses=(vip("192.0.2.10/24"), vip("192.0.2.11/24"))
        ),
        TWO[1],
    )
    p1, _ = plan_reload(old, config(*TWO)).matched
    assert p1.change is Change.IN_PLACE
    assert p1.host == HostDiff(remove_addresses=(vip("192.0.2.11/24"),))


def test_a_vip_whose_options_changed_is_replaced_and_its_neighbours_kept() -> None:
    old = config(inst(virtual_ipaddresses=(vip("192.0.2.10/24"), vip("192.0.2.11/24"))))
    new = config(
        inst(virtual_ipaddresses=(vip("192.0.2.10/24"), vip("192.0.2.11/24", label="eth0:1")))
    )
    (p,) = plan_reload(old, new).matched
    assert p.host.remove_addresses == (vip("192.0.2.11/24"),)
    assert p.host.add_addresses == (vip("192.0.2.11/24", label="eth0:1"),)


def test_an_excluded_vip_and_virtual_routes_are_diffed_too() -> None:
    old = config(inst(virtual_ipaddresses_excluded=(vip("203.0.113.5/32"),)))
    new = config(inst(virtual_ipaddresses_excluded=(vip("203.0.113.6/32"),)))
    (p,) = plan_reload(old, new).matched
    assert p.change is Change.IN_PLACE and not p.advert_changed
    assert p.host == HostDiff(
        remove_addresses=(vip("203.0.113.5/32"),), add_addresses=(vip("203.0.113.6/32"),)
    )


def test_an_advert_interval_change_rebuilds_only_that_instance() -> None:
    new = config(TWO[0], dataclasses.replace(TWO[1], advert_int_us=50_000))
    p1, p2 = plan_reload(config(*TWO), new).matched
    assert p1.change is Change.UNCHANGED
    assert p2.change is Change.REBUILT and p2.reasons == ("advert_int_us",)
    assert p2.host.empty


def test_instances_are_matched_by_vrid_family_and_interface_not_by_name() -> None:
    renamed = config(dataclasses.replace(TWO[0], name="WEB"), TWO[1])
    plan = plan_reload(config(*TWO), renamed)
    assert not plan.added and not plan.removed
    assert changes(config(*TWO), renamed) == {"WEB": Change.REBUILT, "VI_2": Change.UNCHANGED}
    moved = config(dataclasses.replace(TWO[0], interface="eth1"), TWO[1])
    plan = plan_reload(config(*TWO), moved)
    assert [c.name for c in plan.added] == ["VI_1"]
    assert [c.name for c in plan.removed] == ["VI_1"]
    assert [p.change for p in plan.matched] == [Change.UNCHANGED]


def test_unicast_and_vmac_address_are_part_of_an_instance_s_identity() -> None:
    """keepalived's vrrp_exist: going unicast, or changing a unicast instance's source
    address, or ``use_vmac_addr``, makes another instance (removed and added)."""
    peer = UnicastPeer(address=ip_address("192.0.2.2"))
    uni = dataclasses.replace(TWO[0], unicast_peers=(peer,))
    for old, new in (
        (TWO[0], uni),
        (uni, dataclasses.replace(uni, source_address=ip_address("192.0.2.1"))),
        (TWO[0], dataclasses.replace(TWO[0], use_vmac_addr=True)),
    ):
        plan = plan_reload(config(old, TWO[1]), config(new, TWO[1]))
        assert [c.name for c in plan.added] == [c.name for c in plan.removed] == ["VI_1"]
    more = (peer, UnicastPeer(address=ip_address("192.0.2.3")))
    plan = plan_reload(config(uni), config(dataclasses.replace(uni, unicast_peers=more)))
    assert not plan.added and [p.change for p in plan.matched] == [Change.REBUILT]


def test_an_instance_added_and_one_removed_leave_the_others_alone() -> None:
    third = inst("VI_3", 53, virtual_ipaddresses=(vip("192.0.2.30/24"),))
    plan = plan_reload(config(*TWO), config(TWO[0], third))
    assert [c.name for c in plan.added] == ["VI_3"]
    assert [c.name for c in plan.removed] == ["VI_2"]
    assert [(p.new.name, p.change) for p in plan.matched] == [("VI_1", Change.UNCHANGED)]


def test_sync_group_membership_rebuilds_the_members_that_changed_group() -> None:
    groups = (SyncGroup(name="G", members=("VI_1",)),)
    plan = plan_reload(config(*TWO), config(*TWO, sync_groups=groups))
    assert plan.sync_groups_changed
    assert {p.new.name: (p.change, p.reasons) for p in plan.matched} == {
        "VI_1": (Change.REBUILT, ("sync group",)),
        "VI_2": (Change.UNCHANGED, ()),
    }


def test_tracking_changes_restart_the_drivers_and_rebuild_the_tracking_instance() -> None:
    script = VrrpScript(name="chk", script=Script(("/bin/true",)))
    old = config(*TWO, scripts=(script,))
    slower = config(*TWO, scripts=(dataclasses.replace(script, interval_us=2_000_000),))
    plan = plan_reload(old, slower)
    assert plan.tracking_changed
    assert all(p.change is Change.UNCHANGED for p in plan.matched)
    tracking = config(
        dataclasses.replace(TWO[0], track_scripts=(Tracked(name="chk"),)), TWO[1], scripts=(script,)
    )
    plan = plan_reload(old, tracking)
    assert plan.tracking_changed
    assert [p.change for p in plan.matched] == [Change.REBUILT, Change.UNCHANGED]
    assert not plan_reload(old, old).tracking_changed


def test_static_addresses_are_diffed_with_the_default_interface_filled_in() -> None:
    old = Config(static=StaticConfig(addresses=(vip("198.18.0.1/32"), vip("198.18.0.2/32"))))
    new = Config(
        static=StaticConfig(addresses=(vip("198.18.0.1/32", dev="eth0"), vip("198.18.0.3/32")))
    )
    diff = plan_reload(old, new).static
    assert diff.remove_addresses == (vip("198.18.0.2/32", dev="eth0"),)
    assert diff.add_addresses == (vip("198.18.0.3/32", dev="eth0"),)


def test_global_settings_rebuild_or_wait_for_a_restart() -> None:
    old = config(*TWO)
    new = dataclasses.replace(
        old,
        global_defs=GlobalDefs(vrrp_check_unicast_src=True, nftables=Nftables(table="keepalived")),
    )
    plan = plan_reload(old, new)
    assert [p.change for p in plan.matched] == [Change.REBUILT, Change.REBUILT]
    assert plan.restart_needed == ("global_defs nftables",)


def test_configurations_read_from_text(tmp_path: Path) -> None:
    """The loader's models compare by value (file locations do not count)."""

    def read(text: str) -> Config:
        path = tmp_path / "k.conf"
        path.write_text(text)
        loaded = load(LocalFiles(), str(path), cwd=str(tmp_path), config_id="t", host=Eth0())
        assert isinstance(loaded.config, Config)
        return loaded.config

    block = (
        "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n"
        " priority {prio}\n advert_int 1\n virtual_ipaddress {{\n  {vip}\n }}\n}}\n"
    )
    one = block.format(name="VI_1", vrid=51, prio=100, vip="192.0.2.10/24")
    two = block.format(name="VI_2", vrid=52, prio=100, vip="192.0.2.20/24")
    old = read(one + two)
    assert [i.name for i in old.vrrp.instances] == ["VI_1", "VI_2"]
    assert plan_reload(old, read("\n\n" + one + two)).empty  # other lines, same values
    plan = plan_reload(
        old, read(one + block.format(name="VI_2", vrid=52, prio=90, vip="192.0.2.20/24"))
    )
    assert [(p.new.name, p.change) for p in plan.matched] == [
        ("VI_1", Change.UNCHANGED),
        ("VI_2", Change.IN_PLACE),
    ]


def _summary(old: Config, new: Config) -> tuple[object, ...]:
    plan = plan_reload(old, new)
    return (
        [(p.old.name, p.new.name, p.change, p.host, p.reasons) for p in plan.matched],
        [c.name for c in plan.added],
        [c.name for c in plan.removed],
        plan.tracking_changed,
        plan.sync_groups_changed,
    )


def test_the_same_instance_objects_plan_as_equal_copies_do() -> None:
    """A re-read hands over the very instances of unchanged blocks; the plan treats an
    instance that is the same object as one that is equal (identity is only a short
    cut), also for the tracking of the others."""
    scripts = (VrrpScript(name="chk", script=Script(("/bin/true",))),)
    a = inst("A", 51, track_scripts=(Tracked(name="chk", weight=5),))
    b = inst("B", 52, virtual_ipaddresses=(vip("192.0.2.20/24"),))
    c = inst("C", 53, virtual_ipaddresses=(vip("192.0.2.30/24"),))
    old = config(a, b, c, scripts=scripts)
    news = [
        config(a, dataclasses.replace(b, priority=150), c, scripts=scripts),
        config(a, b, dataclasses.replace(c, track_scripts=(Tracked(name="chk"),)), scripts=scripts),
        config(dataclasses.replace(a, track_scripts=()), b, scripts=scripts),
        config(b, a, inst("D", 54, virtual_ipaddresses=(vip("192.0.2.40/24"),)), scripts=scripts),
    ]
    for new in news:
        copies = config(*(dataclasses.replace(i) for i in new.vrrp.instances), scripts=scripts)
        assert _summary(old, new) == _summary(old, copies)
