"""BFD authentication (RFC 5880 sections 4.2-4.4 and 6.7), a pykad extension.

keepalived's BFD has no authentication; pykad offers the RFC's five types so that
a session to a router that requires it (FRR, BIRD, vendors) can come up.  Owned
here: ``AuthKey`` (what the configuration says), ``AuthState`` (bfd.RcvAuthSeq,
bfd.XmitAuthSeq, bfd.AuthSeqKnown of section 6.8.1), signing outgoing packets
and verifying received ones, with the sequence windows of sections 6.7.3 and
6.7.4 (keyed: the last sequence number up to 3 x Detect Mult ahead; meticulous:
strictly ahead).  bfd.AuthSeqKnown is cleared after two Detection Times
without a valid packet (6.8.1).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from pykad.bfd import wire
from pykad.bfd.packet import HEADER_LEN, PASSWORD_MAX, PASSWORD_MIN, Auth, AuthType, ControlPacket

DIGEST_LEN = {
    AuthType.KEYED_MD5: 16,
    AuthType.METICULOUS_KEYED_MD5: 16,
    AuthType.KEYED_SHA1: 20,
    AuthType.METICULOUS_KEYED_SHA1: 20,
}
_HASH = {16: hashlib.md5, 20: hashlib.sha1}
_METICULOUS = (AuthType.METICULOUS_KEYED_MD5, AuthType.METICULOUS_KEYED_SHA1)
_DIGEST_AT = HEADER_LEN + 8


@dataclass(frozen=True, slots=True)
class AuthKey:
    """One configured key: its type, Key ID and secret (password or digest key)."""

    auth_type: AuthType
    key_id: int
    secret: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.key_id <= 255:
            raise ValueError(f"key id {self.key_id} is not 0-255")
        size = DIGEST_LEN.get(self.auth_type, PASSWORD_MAX)
        low = PASSWORD_MIN if self.auth_type is AuthType.SIMPLE_PASSWORD else 1
        if not low <= len(self.secret) <= size:
            raise ValueError(f"a {self.auth_type.name} key has {low}-{size} bytes")


class AuthState:
    """The sequence numbers of one session (RFC 5880 section 6.8.1)."""

    def __init__(self, key: AuthKey, xmit_auth_seq: int = 0) -> None:
        self.key = key
        self.xmit_auth_seq = xmit_auth_seq & 0xFFFFFFFF
        self.rcv_auth_seq = 0
        self.auth_seq_known = False
        self._last_valid = 0

    def sign(self, packet: ControlPacket) -> bytes:
        """``packet`` with this key's authentication section, ready to send."""
        key = self.key
        if key.auth_type is AuthType.SIMPLE_PASSWORD:
            return wire.encode(packet._replace(auth=Auth(key.auth_type, key.key_id, 0, key.secret)))
        # 6.7.3/6.7.4: the sequence number grows with every packet (we always "increment").
        self.xmit_auth_seq = (self.xmit_auth_seq + 1) & 0xFFFFFFFF
        size = DIGEST_LEN[key.auth_type]
        placeholder = key.secret.ljust(size, b"\0")
        data = wire.encode(
            packet._replace(auth=Auth(key.auth_type, key.key_id, self.xmit_auth_seq, placeholder))
        )
        return data[:_DIGEST_AT] + _HASH[size](data).digest()

    def verify(self, packet: ControlPacket, data: bytes, now: int, detection_time: int) -> bool:
        """Whether a received packet authenticates (6.7); updates bfd.RcvAuthSeq if so."""
        key, auth = self.key, packet.auth
        if auth is None or auth.auth_type != key.auth_type or auth.key_id != key.key_id:
            return False
        if key.auth_type is AuthType.SIMPLE_PASSWORD:
            return hmac.compare_digest(auth.data, key.secret)
        if self.auth_seq_known and now - self._last_valid > 2 * detection_time:
            self.auth_seq_known = False
        if self.auth_seq_known:
            ahead = (auth.sequence - self.rcv_auth_seq) & 0xFFFFFFFF
            low = 1 if key.auth_type in _METICULOUS else 0
            if not low <= ahead <= 3 * packet.detect_mult:
                return False
        size = DIGEST_LEN[key.auth_type]
        length = HEADER_LEN + 8 + size
        expected = _HASH[size](data[:_DIGEST_AT] + key.secret.ljust(size, b"\0")).digest()
        if len(data) < length or not hmac.compare_digest(data[_DIGEST_AT:length], expected):
            return False
        self.rcv_auth_seq = auth.sequence
        self.auth_seq_known = True
        self._last_valid = now
        return True
