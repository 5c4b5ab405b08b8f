"""This machine as the config checks see it (``pykad.config.build.Host``)."""

from __future__ import annotations

import functools
import grp
import os
import pwd
import shutil
import socket
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, ip_address

from pykad.config.scripts import FileStatus


class _Basics:
    """Interfaces of the current network namespace; users and groups of this system.

    One object serves one reading of a configuration: the interfaces are listed once
    (a big configuration names them thousands of times)."""

    @functools.cached_property
    def _interfaces(self) -> frozenset[str]:
        return frozenset(name for _, name in socket.if_nameindex())

    def interface_exists(self, name: str) -> bool:
        if name in self._interfaces:
            return True
        try:  # an alternative name (``ip link property add altname``)
            socket.if_nametoindex(name)
        except OSError:
            return False
        return True

    def user_ids(self, name: str) -> tuple[int, int] | None:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            return None
        return entry.pw_uid, entry.pw_gid

    def group_id(self, name: str) -> int | None:
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            return None


class LocalScriptHost:
    """Files and $PATH on this machine, for vetting scripts."""

    def search_path(self, name: str) -> str | None:
        return shutil.which(name)

    def realpath(self, path: str) -> str | None:
        real = os.path.realpath(path)
        return real if os.path.exists(real) else None

    def stat(self, path: str) -> FileStatus | None:
        return _status(os.stat, path)

    def lstat(self, path: str) -> FileStatus | None:
        return _status(os.lstat, path)


def _status(stat: Callable[[str], os.stat_result], path: str) -> FileStatus | None:
    try:
        st = stat(path)
    except OSError:
        return None
    return FileStatus(st.st_mode, st.st_uid, st.st_gid)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


class _Details:
    """The optional host facts some checks use (see ``pykad.config.build.Host``).

    Each fact is read once per run: a config naming one interface 10,000 times
    asks for its MTU 10,000 times.
    """

    @functools.cache  # noqa: B019 - one host object per run
    def interface_mtu(self, name: str) -> int | None:
        text = _read(f"/sys/class/net/{name}/mtu")
        return int(text) if text and text.strip().isdigit() else None

    @functools.cache  # noqa: B019 - one host object per run
    def interface_is_loopback(self, name: str) -> bool:
        return (_read(f"/sys/class/net/{name}/type") or "").strip() == "772"  # ARPHRD_LOOPBACK

    def interface_addresses(self, name: str) -> tuple[IPv4Address | IPv6Address, ...]:
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            try:
                index = ipr.link_lookup(ifname=name)
            except Exception:
                return ()
            if not index:
                return ()
            found = [ip_address(a.get_attr("IFA_ADDRESS")) for a in ipr.get_addr(index=index[0])]
        return tuple(found)

    def vrf_table(self, name: str) -> int | None:
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            index = ipr.link_lookup(ifname=name)
            if not index:
                return None
            (link,) = ipr.get_links(index[0])
            info = link.get_attr("IFLA_LINKINFO")
            if info is None or info.get_attr("IFLA_INFO_KIND") != "vrf":
                return None
            data = info.get_attr("IFLA_INFO_DATA")
            table = data.get_attr("IFLA_VRF_TABLE") if data is not None else None
            return int(table) if table is not None else None

    @functools.cache  # noqa: B019 - one host object per run
    def resolves(self, name: str) -> bool:
        """getaddrinfo finds ``name`` (keepalived resolves smtp_server names as it reads)."""
        try:
            socket.getaddrinfo(name, None)
        except OSError:
            return False
        return True

    def enter_namespace(self, name: str) -> bool:
        """Join network namespace ``name`` (``ip netns``'s /run/netns/NAME), as keepalived does."""
        import ctypes

        self.__dict__.pop("_interfaces", None)  # listed again, in the namespace

        try:
            fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
        except OSError:
            return False
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            return bool(libc.setns(fd, 0x40000000) == 0)  # CLONE_NEWNET
        finally:
            os.close(fd)

    def online_cpus(self) -> int:
        return os.cpu_count() or 1

    def iproute2_file(self, name: str) -> str | None:
        return _read(f"/etc/iproute2/{name}") or _read(f"/usr/share/iproute2/{name}")

    def etc_protocols(self) -> str | None:
        return _read("/etc/protocols")


class LocalHost(_Basics, _Details):
    """This machine's facts for the config checks (``pykad.config.build.Host``)."""


class SettledHost(LocalHost):
    """This machine once a daemon is in its network namespace (``-s``, or its first read
    entered ``net_namespace``): a later read leaves every thread where it is."""

    def enter_namespace(self, name: str) -> bool:
        return True
