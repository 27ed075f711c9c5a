"""ACLs: the auth providers ZooKeeper 3.8 ships (ip, digest), checkACL, fixupACL, the ACL cache.

An ACL list is held as a tuple of ``(perms, scheme, id)`` triples, interned in
:class:`ACLCache` so that a million znodes with the same ACL share one object, and so that
snapshots can write ZooKeeper's ``Long -> List<ACL>`` map with stable ids.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence

from ..constants import Code, KeeperError, Perms
from ..jute import records as R

AclEntry = tuple[int, str, str]  # (perms, scheme, id)
AclList = tuple[AclEntry, ...]
AuthId = tuple[str, str]  # (scheme, id), as ServerCnxn.authInfo

OPEN_ACL_UNSAFE: AclList = ((Perms.ALL, "world", "anyone"),)
READ_ACL_UNSAFE: AclList = ((Perms.READ, "world", "anyone"),)
#: ReferenceCountedACLCache's id for OPEN_ACL_UNSAFE
OPEN_UNSAFE_ACL_ID = -1


_JAVA_INT = re.compile(r"[+-]?[0-9]+\Z")


#: the few distinct ACL lists a server sees, as shared jute record lists (both directions)
_RECORDS_BY_ACL: dict[tuple, tuple] = {}
_ACL_BY_LIST_ID: dict[int, tuple[tuple, tuple]] = {}
_ACL_CACHE_LIMIT = 4096


def acl_records(acl: AclList) -> tuple:
    """The ``vector<ACL>`` records for ``acl``: the same tuple each time (jute encodes it once)."""
    recs = _RECORDS_BY_ACL.get(acl)
    if recs is None:
        if len(_RECORDS_BY_ACL) >= _ACL_CACHE_LIMIT:
            _RECORDS_BY_ACL.clear()
            _ACL_BY_LIST_ID.clear()
        recs = tuple(R.ACL(p, R.Id(s, i)) for p, s, i in acl)
        _RECORDS_BY_ACL[acl] = recs
        _ACL_BY_LIST_ID[id(recs)] = (recs, acl)
    return recs


def acl_from_records(recs) -> AclList:
    """``vector<ACL>`` records -> the ACL tuple (free for lists made by :func:`acl_records`)."""
    hit = _ACL_BY_LIST_ID.get(id(recs))
    if hit is not None and hit[0] is recs:
        return hit[1]
    return tuple((a.perms, a.id.scheme, a.id.id) for a in recs or ())


def generate_digest(id_password: str) -> str:
    """``user:password`` -> ``user:base64(sha1(user:password))`` (DigestAuthenticationProvider)."""
    user = id_password.split(":", 1)[0]
    digest = hashlib.sha1(id_password.encode("utf-8")).digest()
    return f"{user}:{base64.b64encode(digest).decode('ascii')}"


def _java_split(s: str, sep: str) -> list[str]:
    """String.split(sep) for a literal one-char separator: trailing empty strings dropped."""
    if s == "":
        return [""]
    parts = s.split(sep)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _v4_bytes(addr: str) -> list[int] | None:
    parts = addr.split(".")
    if len(parts) != 4:
        return None
    out = []
    for p in parts:
        if not _JAVA_INT.match(p):
            return None
        v = int(p)
        if not 0 <= v <= 255:
            return None
        out.append(v)
    return out


def _mask(b: list[int], bits: int) -> list[int]:
    out = []
    for i, byte in enumerate(b):
        keep = max(0, min(8, bits - 8 * i))
        out.append(byte & (0xFF << (8 - keep)) & 0xFF)
    return out


class IPAuthenticationProvider:
    scheme = "ip"
    authenticated = False

    def is_valid(self, acl_id: str) -> bool:
        parts = acl_id.split("/", 1)
        addr = _v4_bytes(parts[0])
        if addr is None:
            return False
        if len(parts) == 2:
            try:
                bits = int(parts[1])
            except ValueError:
                return False
            if not 0 <= bits <= 32:
                return False
        return True

    def matches(self, auth_id: str, acl_expr: str) -> bool:
        parts = acl_expr.split("/", 1)
        acl_addr = _v4_bytes(parts[0])
        if acl_addr is None:
            return False
        bits = 32
        if len(parts) == 2:
            try:
                bits = int(parts[1])
            except ValueError:
                return False
            if not 0 <= bits <= 32:
                return False
        remote = _v4_bytes(auth_id)
        if remote is None:
            return False
        return _mask(remote, bits) == _mask(acl_addr, bits)

    def user_name(self, auth_id: str) -> str:
        return auth_id


class DigestAuthenticationProvider:
    scheme = "digest"
    authenticated = True

    def __init__(self, super_digest: str | None = None) -> None:
        self.super_digest = super_digest

    def authenticate(self, auth_data: bytes) -> list[AuthId]:
        """Ids to add to the connection for ``addauth digest user:password``."""
        digest = generate_digest(auth_data.decode("utf-8", "replace"))
        ids: list[AuthId] = []
        if self.super_digest is not None and digest == self.super_digest:
            ids.append(("super", ""))
        ids.append(("digest", digest))
        return ids

    def is_valid(self, acl_id: str) -> bool:
        return len(_java_split(acl_id, ":")) == 2

    def matches(self, auth_id: str, acl_expr: str) -> bool:
        return auth_id == acl_expr

    def user_name(self, auth_id: str) -> str:
        return auth_id.split(":")[0]


class AuthProviders:
    """ProviderRegistry: scheme -> provider.  ``world`` and ``super`` are not providers in 3.8."""

    def __init__(self, super_digest: str | None = None, digest_enabled: bool = True) -> None:
        self.providers: dict[str, IPAuthenticationProvider | DigestAuthenticationProvider] = {
            "ip": IPAuthenticationProvider()
        }
        if digest_enabled:
            self.providers["digest"] = DigestAuthenticationProvider(super_digest)
        self._fixed: dict[tuple, AclList] = {}
        self._fixed_by_id: dict[int, tuple[tuple, AclList]] = {}

    def get(self, scheme: str):
        return self.providers.get(scheme)

    def authenticate(self, scheme: str, auth: bytes, remote_ip: str) -> list[AuthId] | None:
        """Ids gained by an AuthPacket, or None for AUTHFAILED."""
        provider = self.providers.get(scheme)
        if provider is None:
            return None
        if scheme == "ip":
            return [("ip", remote_ip)]
        return provider.authenticate(auth)

    def check(self, acl: AclList, perm: int, auth_ids: Sequence[AuthId]) -> None:
        """ZooKeeperServer.checkACL: raise NOAUTH unless some ACL entry grants ``perm``."""
        if not acl:
            return
        for scheme, _ in auth_ids:
            if scheme == "super":
                return
        for perms, scheme, acl_id in acl:
            if perms & perm:
                if scheme == "world" and acl_id == "anyone":
                    return
                provider = self.providers.get(scheme)
                if provider is not None:
                    for a_scheme, a_id in auth_ids:
                        if a_scheme == scheme and provider.matches(a_id, acl_id):
                            return
        raise KeeperError(Code.NOAUTH)

    def allowed(self, acl: AclList, perm: int, auth_ids: Sequence[AuthId]) -> bool:
        try:
            self.check(acl, perm, auth_ids)
        except KeeperError:
            return False
        return True

    def fixup(self, path: str, auth_ids: Sequence[AuthId], acls: Iterable | None) -> AclList:
        """PrepRequestProcessor.fixupACL: dedupe, expand ``auth``, validate each id."""
        if type(acls) is tuple:  # an interned vector<ACL> (see jute's Vector(interned=True))
            hit = self._fixed_by_id.get(id(acls))
            if hit is not None and hit[0] is acls:
                return hit[1]
            out = self.fixup(path, auth_ids, list(acls))
            if not any(a.id is not None and a.id.scheme == "auth" for a in acls if a is not None):
                if len(self._fixed_by_id) >= _ACL_CACHE_LIMIT:
                    self._fixed_by_id.clear()
                self._fixed_by_id[id(acls)] = (acls, out)
            return out
        if acls:
            try:
                key = tuple((a.perms, a.id.scheme, a.id.id) for a in acls)
            except AttributeError:
                key = None
            if key is not None:
                hit = self._fixed.get(key)
                if hit is not None:
                    return hit
                out = self._fixup(path, auth_ids, acls)
                if not any(scheme == "auth" for _, scheme, _ in key):  # depends on nothing else
                    if len(self._fixed) >= _ACL_CACHE_LIMIT:
                        self._fixed.clear()
                    self._fixed[key] = out
                return out
        return self._fixup(path, auth_ids, acls)

    def _fixup(self, path: str, auth_ids: Sequence[AuthId], acls: Iterable | None) -> AclList:
        uniq: list[AclEntry] = []
        for a in acls or ():
            if a is None or a.id is None or a.id.scheme is None:
                raise KeeperError(Code.INVALIDACL, path)
            entry = (a.perms, a.id.scheme, a.id.id)
            if entry not in uniq:
                uniq.append(entry)
        if not uniq:
            raise KeeperError(Code.INVALIDACL, path)
        out: list[AclEntry] = []
        for perms, scheme, acl_id in uniq:
            if scheme == "world" and acl_id == "anyone":
                out.append((perms, scheme, acl_id))
            elif scheme == "auth":
                valid = False
                for a_scheme, a_id in auth_ids:
                    provider = self.providers.get(a_scheme)
                    if provider is not None and provider.authenticated:
                        valid = True
                        out.append((perms, a_scheme, a_id))
                if not valid:
                    raise KeeperError(Code.INVALIDACL, path)
            else:
                provider = self.providers.get(scheme)
                if provider is None or acl_id is None or not provider.is_valid(acl_id):
                    raise KeeperError(Code.INVALIDACL, path)
                out.append((perms, scheme, acl_id))
        return tuple(out)

    def user_name(self, scheme: str, auth_id: str) -> str:
        provider = self.providers.get(scheme)
        return provider.user_name(auth_id) if provider is not None else ""


class ACLCache:
    """ReferenceCountedACLCache: interns ACL lists and numbers them for snapshots."""

    def __init__(self) -> None:
        self._by_acl: dict[AclList, list] = {}  # acl -> [id, refcount]
        self._by_id: dict[int, AclList] = {}
        self._next_id = 1

    def intern(self, acl: AclList) -> AclList:
        """Count one more use of ``acl``; returns the shared tuple."""
        entry = self._by_acl.get(acl)
        if entry is None:
            if acl == OPEN_ACL_UNSAFE:
                acl_id = OPEN_UNSAFE_ACL_ID
            else:
                acl_id = self._next_id
                self._next_id += 1
            entry = self._by_acl[acl] = [acl_id, 0, acl]
            self._by_id[acl_id] = acl
        entry[1] += 1
        return entry[2]

    def release(self, acl: AclList) -> None:
        entry = self._by_acl.get(acl)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del self._by_acl[acl]
            del self._by_id[entry[0]]

    def id_of(self, acl: AclList) -> int:
        return self._by_acl[acl][0]

    def load(self, acl_id: int, acl: AclList) -> None:
        """Restore one entry of a snapshot's ACL map (refcounts come from the nodes)."""
        acl = tuple(acl)
        self._by_acl[acl] = [acl_id, 0, acl]
        self._by_id[acl_id] = acl
        self._next_id = max(self._next_id, acl_id + 1)

    def by_id(self, acl_id: int) -> AclList:
        if acl_id == OPEN_UNSAFE_ACL_ID and acl_id not in self._by_id:
            return self.intern(OPEN_ACL_UNSAFE)
        try:
            acl = self._by_id[acl_id]
        except KeyError:
            raise ValueError(f"ACL id {acl_id} is not in the ACL cache") from None
        self._by_acl[acl][1] += 1
        return self._by_acl[acl][2]

    def items(self) -> list[tuple[int, AclList]]:
        return [(e[0], acl) for acl, e in self._by_acl.items()]

    def __len__(self) -> int:
        return len(self._by_acl)
