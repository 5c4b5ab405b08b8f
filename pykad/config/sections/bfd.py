"""``bfd_instance`` blocks: BFD sessions (keepalived/bfd/bfd_parser.c, 2.2.7).

Owns the ``bfd_instance`` keyword, the ``BfdInstance`` model, keepalived's
checks on it (name length and duplicates, neighbor and source addresses of
one family, unique neighbor/source pairs, max_hops within ttl) and its
writer. Timers are kept in microseconds, as keepalived does; the config
gives them in milliseconds with up to 3 decimals.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import ClassVar

from pykad.config.addresses import IPAddress, inet_stosockaddr
from pykad.config.build import Builders, Context
from pykad.config.tree import Statement
from pykad.config.values import format_decimal

NAME = "bfd"
ORDER = 40

INAME_MAX = 32
MINRX_MIN, MINRX_MAX, MINRX_DEFAULT = 1, 2**32 // 1000, 10
MINTX_MIN, MINTX_MAX, MINTX_DEFAULT = 1, 2**32 // 1000, 10
IDLETX_MIN, IDLETX_MAX, IDLETX_DEFAULT = 1000, 2**32 // 1000, 1000
MULTIPLIER_MIN, MULTIPLIER_MAX, MULTIPLIER_DEFAULT = 1, 255, 5
TTL_MAX = 255
CONTROL_TTL, CONTROL_HOPLIMIT = 255, 64
WEIGHT_MIN, WEIGHT_MAX = -253, 253


@dataclass(frozen=True, slots=True, kw_only=True)
class BfdInstance:
    """One BFD session to a neighbor (RFC 5880/5881; multihop RFC 5883)."""

    name: str
    neighbor: IPAddress
    source: IPAddress | None = None
    min_rx_us: int = MINRX_DEFAULT * 1000
    min_tx_us: int = MINTX_DEFAULT * 1000
    idle_tx_us: int = IDLETX_DEFAULT * 1000
    multiplier: int = MULTIPLIER_DEFAULT
    passive: bool = False
    ttl: int = CONTROL_TTL
    """IPv4 TTL or IPv6 hop limit to send with (and expect, with max_hops)."""
    max_hops: int = 0
    weight: int = 0
    """What a failure of this session does to the priority of a VRRP instance tracking it."""
    weight_reverse: bool = False
    vrrp: bool = True
    """Events go to the VRRP process."""
    checker: bool = True
    """Events go to the checker process."""
    multihop: bool = False
    """keepalived 2.2.8+: RFC 5883 multihop (UDP 4784)."""
    auth: BfdAuth | None = None
    """pykad: RFC 5880 authentication (``pykad_auth TYPE KEY_ID SECRET``)."""


AUTH_TYPES = (
    "simple_password",
    "keyed_md5",
    "meticulous_keyed_md5",
    "keyed_sha1",
    "meticulous_keyed_sha1",
)
"""``pykad_auth`` types, in RFC 5880's order (Auth Type 1-5)."""
AUTH_SECRET_MAX = {"simple_password": 16, "keyed_md5": 16, "meticulous_keyed_md5": 16}
"""Longest secret per type (RFC 5880 sections 4.2-4.4); SHA1 keys take 20 bytes."""


@dataclass(frozen=True, slots=True)
class BfdAuth:
    """One session's authentication: its type (a name of ``AUTH_TYPES``), Key ID, secret."""

    auth_type: str
    key_id: int
    secret: str


@dataclass(frozen=True, slots=True)
class BfdConfig:
    instances: tuple[BfdInstance, ...] = ()

    def by_name(self, name: str) -> BfdInstance | None:
        return next((b for b in self.instances if b.name == name), None)


@dataclass
class _Draft:
    name: str
    neighbor: IPAddress | None = None
    neighbor_word: str = "neighbor"
    fields: dict[str, object] = field(default_factory=dict)
    processes: set[str] = field(default_factory=set)


class Builder:
    """Reads ``bfd_instance`` blocks, in file order, as keepalived's three parses do."""

    keywords: ClassVar[frozenset[str]] = frozenset({"bfd_instance"})

    def __init__(self, ctx: Context, builders: Builders) -> None:
        self.ctx = ctx
        self.instances: list[BfdInstance] = []
        self.names: set[str] = set()

    def statement(self, statement: Statement) -> None:
        ctx = self.ctx
        name = ctx.word(statement, 1)
        if len(name) >= INAME_MAX:
            ctx.error(
                f"Configuration error: BFD instance {name} name too long "
                f"(maximum length is {INAME_MAX - 1} characters) - ignoring"
            )
            return
        if name in self.names:
            ctx.error(f"Configuration error: BFD instance {name} already configured - ignoring")
            return
        self.names.add(name)
        draft = _Draft(name)
        for child in statement.children:
            ctx.at(child)
            if not self._keyword(draft, child):
                return  # keepalived frees the instance and skips the rest of its block
        ctx.location = statement.end or statement.location
        instance = self._finish(draft)
        if instance is not None:
            self.instances.append(instance)

    def _keyword(self, draft: _Draft, st: Statement) -> bool:
        ctx, values, kw, name = self.ctx, self.ctx.values, st.keyword, draft.name
        if kw in ("neighbor_ip", "neighbour_ip"):
            word = ctx.word(st, 1)
            if word == "neighbour_ip":  # sic: keepalived compares the address, not the keyword
                draft.neighbor_word = "neighbour"
            address = inet_stosockaddr(word)
            if address is None:
                ctx.error(
                    f"Configuration error: BFD instance {name} has malformed "
                    f"{draft.neighbor_word} address {word}, ignoring instance"
                )
                return False
            draft.neighbor = address
        elif kw == "source_ip":
            word = ctx.word(st, 1)
            address = inet_stosockaddr(word)
            if address is None:
                ctx.error(
                    f"Configuration error: BFD instance {name} has malformed source "
                    f"address {word}, ignoring"
                )
            else:
                draft.fields["source"] = address
        elif kw in ("min_rx", "min_tx", "idle_tx"):
            low, high = {
                "min_rx": (MINRX_MIN, MINRX_MAX),
                "min_tx": (MINTX_MIN, MINTX_MAX),
                "idle_tx": (IDLETX_MIN, IDLETX_MAX),
            }[kw]
            word = ctx.word(st, 1)
            value = values.read_decimal(word, low * 1000, high * 1000, 3)
            if value is None:
                ctx.error(
                    f"Configuration error: BFD instance {name} {kw} value {word} is not "
                    f"valid (must be in range [{low}-{high}]), ignoring"
                )
            else:
                draft.fields[f"{kw}_us"] = value
        elif kw == "multiplier":
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, MULTIPLIER_MIN, MULTIPLIER_MAX)
            if value is None:
                ctx.error(
                    f"Configuration error: BFD instance {name} multiplier value {word} "
                    f"not valid (must be in range [{MULTIPLIER_MIN}-{MULTIPLIER_MAX}]), "
                    "ignoring"
                )
            else:
                draft.fields["multiplier"] = value
        elif kw in ("ttl", "hoplimit"):
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 1, TTL_MAX)
            if value is None:
                ctx.error(
                    f"Configuration error: BFD instance {name} ttl/hoplimit value {word} "
                    f"not valid (must be in range [1-{TTL_MAX}]), ignoring"
                )
            else:
                draft.fields["ttl"] = value
        elif kw == "max_hops":
            word = ctx.word(st, 1)
            value = values.read_int(word, -1, TTL_MAX)
            if value is None:
                ctx.error(
                    f"Configuration error: BFD instance {name} max_hops value {word} "
                    f"not valid (must be in range [-1-{TTL_MAX}]), ignoring"
                )
            else:
                draft.fields["max_hops"] = value
        elif kw == "weight":  # read by the VRRP process only
            word = ctx.word(st, 1)
            value = values.read_int(word, WEIGHT_MIN, WEIGHT_MAX, lenient=True)
            if value is None:
                ctx.error(
                    f"Configuration error: BFD instance {name} weight value {word} not "
                    f"valid (must be in range [{WEIGHT_MIN}-{WEIGHT_MAX}]), ignoring"
                )
            else:
                draft.fields["weight"] = value
            if len(st.words) >= 3:
                if st.words[2] == "reverse":
                    draft.fields["weight_reverse"] = True
                else:
                    ctx.error(
                        f"Configuration error: BFD instance {name} unknown weight option "
                        f"{st.words[2]}"
                    )
        elif kw == "passive":
            draft.fields["passive"] = True
        elif kw == "multihop":
            draft.fields["multihop"] = True
        elif kw == "pykad_auth":
            auth = self._auth(name, st)
            if auth is not None:
                draft.fields["auth"] = auth
        elif kw in ("vrrp", "checker"):
            draft.processes.add(kw)
        return True

    def _auth(self, name: str, st: Statement) -> BfdAuth | None:
        """``pykad_auth TYPE KEY_ID SECRET`` (a pykad keyword: keepalived has no BFD auth)."""
        ctx = self.ctx
        if len(st.words) != 4:
            ctx.error(f"BFD instance {name}: pykad_auth takes TYPE KEY_ID SECRET - ignoring")
            return None
        auth_type, key_word, secret = st.words[1:]
        if auth_type not in AUTH_TYPES:
            ctx.error(
                f"BFD instance {name}: unknown pykad_auth type {auth_type} "
                f"(one of {', '.join(AUTH_TYPES)}) - ignoring"
            )
            return None
        key_id = ctx.values.read_int(key_word, 0, 255)
        if key_id is None:  # read_int said why
            return None
        longest = AUTH_SECRET_MAX.get(auth_type, 20)
        if not 1 <= len(secret.encode()) <= longest:
            ctx.error(f"BFD instance {name}: a {auth_type} secret has 1-{longest} bytes - ignoring")
            return None
        return BfdAuth(auth_type, key_id, secret)

    def _finish(self, draft: _Draft) -> BfdInstance | None:
        """keepalived's bfd_end_handler."""
        ctx, name = self.ctx, draft.name
        if draft.neighbor is None:
            ctx.error(
                f"Configuration error: BFD instance {name} has no {draft.neighbor_word} "
                "address set, disabling instance"
            )
            return None
        source = draft.fields.get("source")
        if source is not None and source.version != draft.neighbor.version:  # type: ignore[attr-defined]
            ctx.error(
                f"Configuration error: BFD instance {name} source address {source} and "
                f"{draft.neighbor_word} address {draft.neighbor} are not of the same "
                "family, disabling instance"
            )
            return None
        for other in self.instances:
            if other.neighbor == draft.neighbor and other.source == source:
                if source is not None:
                    ctx.error(
                        f"Configuration error: BFD instance {name} has duplicate "
                        f"source/{draft.neighbor_word} address {source}/{draft.neighbor}, "
                        "ignoring instance"
                    )
                else:
                    ctx.error(
                        f"Configuration error: BFD instance {name} has duplicate "
                        f"{draft.neighbor_word} address {draft.neighbor}, ignoring instance"
                    )
                return None
        instance = BfdInstance(name=name, neighbor=draft.neighbor, **draft.fields)  # type: ignore[arg-type]
        if "ttl" not in draft.fields:
            ttl = CONTROL_TTL if draft.neighbor.version == 4 else CONTROL_HOPLIMIT
            instance = replace(instance, ttl=ttl)
        if instance.max_hops > instance.ttl:
            ctx.error(
                f"BFD instance {name}: max_hops exceeds ttl/hoplimit - setting to ttl/hoplimit"
            )
            instance = replace(instance, max_hops=instance.ttl)
        if draft.processes:
            instance = replace(
                instance, vrrp="vrrp" in draft.processes, checker="checker" in draft.processes
            )
        return instance

    def finish(self) -> BfdConfig:
        return BfdConfig(tuple(self.instances))


def _ms(us: int) -> str:
    return format_decimal(us, 3)


def write(config: BfdConfig) -> Iterator[str]:
    """``config`` as keepalived.conf lines (every value explicit)."""
    for b in config.instances:
        yield f"bfd_instance {b.name} {{"
        yield f"    neighbor_ip {b.neighbor}"
        if b.source is not None:
            yield f"    source_ip {b.source}"
        yield f"    min_rx {_ms(b.min_rx_us)}"
        yield f"    min_tx {_ms(b.min_tx_us)}"
        yield f"    idle_tx {_ms(b.idle_tx_us)}"
        yield f"    multiplier {b.multiplier}"
        yield f"    ttl {b.ttl}"
        yield f"    max_hops {b.max_hops}"
        if b.weight or b.weight_reverse:
            yield f"    weight {b.weight}" + (" reverse" if b.weight_reverse else "")
        if b.passive:
            yield "    passive"
        if b.multihop:
            yield "    multihop"
        if b.auth is not None:
            yield f"    pykad_auth {b.auth.auth_type} {b.auth.key_id} {b.auth.secret}"
        if not (b.vrrp and b.checker):
            yield from (f"    {p}" for p in ("vrrp", "checker") if getattr(b, p))
        yield "}"
