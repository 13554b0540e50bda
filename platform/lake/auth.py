"""Users, service principals and API tokens.

A token is shown once, when created; the catalog keeps only its SHA-256
digest, so a leaked catalog does not leak tokens. Passwords (for the web UI)
are hashed with scrypt.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from lake.catalog import Catalog
from lake.catalog.models import ApiToken, User, utcnow
from lake.contracts import NAME_RE
from lake.enums import ParsableEnum
from lake.errors import AccessDenied, AlreadyExists, AuthenticationError, InvalidInput, NotFound
from lake.throttle import SignInThrottle

TOKEN_PREFIX = "lg_"
#: Passwords (for the web UI) are at least this long; the longest the API takes is 1024.
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
#: How exact a token's ``last_used_at`` is.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
ADMIN_ROLE = "admin"
PRODUCER_ROLE = "producer"


class PrincipalKind(ParsableEnum, label="principal kind"):
    USER = "user"
    SERVICE = "service"

    @classmethod
    def _normalize(cls, text: str) -> str:
        return text


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a person or a service."""

    name: str
    roles: tuple[str, ...] = ()
    kind: PrincipalKind = PrincipalKind.USER

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles


@dataclass(frozen=True)
class TokenInfo:
    id: int
    user: str
    name: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked: bool


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_rules(password: str) -> None:
    """Refuse a password too short or too long to set.

    Raises:
        InvalidInput: naming the rule it breaks (never echoing the password).
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD_LENGTH} characters; this one has "
                           f"{len(password)}")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"a password has at most {MAX_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise InvalidInput("a password cannot be only spaces")


#: scrypt's cost (its N: 2**14 is 16 MiB and tens of milliseconds) for new hashes. A stored hash
#: names the cost it was made with (``scrypt$<N>$<salt>$<key>``), so changing this changes new
#: passwords only; hashes without one (``scrypt$<salt>$<key>``) were made with 2**14.
DEFAULT_SCRYPT_N = 2**14
SCRYPT_N = DEFAULT_SCRYPT_N
#: The costs a stored hash may name: a power of two in this range (nothing else is verified).
SCRYPT_N_RANGE = (2**10, 2**17)
_SCRYPT_R, _SCRYPT_P = 8, 1
_LEGACY_N = 2**14  # of the hashes that do not name their cost


def _scrypt(password: str, salt: bytes, n: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=_SCRYPT_R, p=_SCRYPT_P, maxmem=2 * 128 * _SCRYPT_R * n)


def hash_password(password: str) -> str:
    """The stored form of ``password``: scrypt at :data:`SCRYPT_N`, a random salt, and the cost."""
    salt = os.urandom(16)
    return f"scrypt${SCRYPT_N}${salt.hex()}${_scrypt(password, salt, SCRYPT_N).hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (at the cost it names)."""
    parts = stored.split("$")
    if len(parts) == 3:
        scheme, salt, key = parts
        n = _LEGACY_N
    elif len(parts) == 4:
        scheme, cost, salt, key = parts
        n = int(cost) if cost.isdigit() and len(cost) <= 8 else 0
    else:
        return False
    low, high = SCRYPT_N_RANGE
    if scheme != "scrypt" or not low <= n <= high or n & (n - 1):
        return False
    try:
        got = _scrypt(password, bytes.fromhex(salt), n)
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), key)


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    """A stored hash to check unknown users' passwords against (same cost, no answer)."""
    if not _DUMMY:
        _DUMMY.append(hash_password(secrets.token_urlsafe(16)))
    return _DUMMY[0]


class Users:
    """Users, service principals and their tokens in the catalog.

    Args:
        catalog: The catalog database.
        throttle: Sign-in throttling and the password hashing bound (see
            :mod:`lake.throttle`); a default one when ``None``.
    """

    def __init__(self, catalog: Catalog, throttle: SignInThrottle | None = None) -> None:
        self.catalog = catalog
        self.throttle = throttle or SignInThrottle()

    def create(
        self,
        name: str,
        *,
        roles: Iterable[str] = (),
        kind: PrincipalKind | str = PrincipalKind.USER,
        password: str | None = None,
        display_name: str = "",
    ) -> Principal:
        if not NAME_RE.fullmatch(name.replace("-", "_").replace(".", "_")):
            raise InvalidInput(f"user name {name!r} must be lower case letters, digits, '_', '-' or '.'")
        kind = PrincipalKind.parse(kind) if isinstance(kind, str) else kind
        if password is not None:
            check_password_rules(password)
        with self.catalog.session() as s:
            if s.scalars(select(User).where(User.name == name)).first() is not None:
                raise AlreadyExists(f"user {name} already exists")
            s.add(User(name=name, kind=kind.value, roles=sorted(set(roles)), display_name=display_name,
                       password_hash=hash_password(password) if password else None))
        return Principal(name, tuple(sorted(set(roles))), kind)

    def ensure(self, name: str, *, roles: Iterable[str] = (), kind: PrincipalKind | str = PrincipalKind.USER) -> Principal:
        """Create the user if missing, adding ``roles`` to an existing one."""
        with self.catalog.session() as s:
            row = s.scalars(select(User).where(User.name == name)).first()
            if row is not None:
                row.roles = sorted(set(row.roles) | set(roles))
                return Principal(row.name, tuple(row.roles), PrincipalKind(row.kind))
        return self.create(name, roles=roles, kind=kind)

    def get(self, name: str) -> Principal:
        with self.catalog.session() as s:
            row = s.scalars(select(User).where(User.name == name)).first()
            if row is None:
                raise NotFound(f"user {name} does not exist")
            return Principal(row.name, tuple(row.roles), PrincipalKind(row.kind))

    def list(self) -> list[Principal]:
        with self.catalog.session() as s:
            return [Principal(r.name, tuple(r.roles), PrincipalKind(r.kind))
                    for r in s.scalars(select(User).order_by(User.name))]

    def set_password(self, name: str, password: str) -> Principal:
        """Set (or replace) the password a user signs in to the web UI with.

        Raises:
            InvalidInput: the password breaks :func:`check_password_rules`, or
                ``name`` is a service principal (services use API tokens).
            NotFound: no such user.
        """
        check_password_rules(password)
        with self.catalog.session() as s:
            row = s.scalars(select(User).where(User.name == name)).first()
            if row is None:
                raise NotFound(f"user {name} does not exist")
            if row.kind == PrincipalKind.SERVICE.value:
                raise InvalidInput(f"{name} is a service principal: it signs in with API tokens, not a password")
            row.password_hash = hash_password(password)
            return Principal(row.name, tuple(row.roles), PrincipalKind(row.kind))

    def check_password(self, name: str, password: str, *, address: str | None = None) -> Principal:
        """The principal whose password this is.

        Args:
            name: The user name.
            password: The password.
            address: The client's address, throttled besides the account.

        Raises:
            TooManyRequests: Too many failed attempts for the account or the
                address (checked before hashing), or too many hashes at once.
            AuthenticationError: Unknown user, wrong password or a deactivated user
                (one answer for all, after the same hashing work).
        """
        self.throttle.check(name, address)
        with self.catalog.session() as s:
            row = s.scalars(select(User).where(User.name == name)).first()
            stored = row.password_hash if row is not None and row.is_active and row.password_hash else None
            principal = Principal(row.name, tuple(row.roles), PrincipalKind(row.kind)) if row is not None else None
        with self.throttle.hashing():
            matches = verify_password(password, stored or _dummy_hash())
        if stored is None or principal is None or not matches:
            self.throttle.failed(name, address)
            raise AuthenticationError("unknown user or wrong password")
        self.throttle.succeeded(name)
        return principal

    def create_token(self, user: str, *, name: str = "", ttl_days: float | None = 90) -> tuple[str, TokenInfo]:
        """Create a bearer token; the plaintext is returned once and never stored."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires = utcnow() + dt.timedelta(days=ttl_days) if ttl_days else None
        with self.catalog.session() as s:
            row = s.scalars(select(User).where(User.name == user)).first()
            if row is None:
                raise NotFound(f"user {user} does not exist")
            tok = ApiToken(user_id=row.id, name=name, prefix=token[:10], token_hash=_digest(token), expires_at=expires)
            s.add(tok)
            s.flush()
            info = TokenInfo(tok.id, user, name, tok.prefix, tok.created_at, expires, False)
        return token, info

    def get_token(self, token_id: int) -> TokenInfo:
        """A token's metadata (never its secret)."""
        with self.catalog.session() as s:
            tok = s.get(ApiToken, token_id)
            if tok is None:
                raise NotFound(f"token {token_id} does not exist")
            return TokenInfo(tok.id, tok.user.name, tok.name, tok.prefix, tok.created_at,
                             tok.expires_at, tok.revoked_at is not None)

    def revoke_token(self, token_id: int) -> None:
        with self.catalog.session() as s:
            tok = s.get(ApiToken, token_id)
            if tok is None:
                raise NotFound(f"token {token_id} does not exist")
            tok.revoked_at = utcnow()

    def authenticate(self, token: str) -> Principal:
        """The principal a bearer token belongs to.

        Raises:
            AuthenticationError: unknown, revoked or expired token, or inactive user.
        """
        if not token or not token.startswith(TOKEN_PREFIX):
            raise AuthenticationError("missing or malformed bearer token")
        with self.catalog.session() as s:
            tok = s.scalars(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()
            if tok is None or tok.revoked_at is not None:
                raise AuthenticationError("invalid or revoked token")
            expires = tok.expires_at
            if expires is not None and expires <= utcnow():
                raise AuthenticationError("token expired")
            user = tok.user
            if not user.is_active:
                raise AuthenticationError("user is deactivated")
            now = utcnow()
            last = tok.last_used_at
            if last is None or now - last >= LAST_USED_RESOLUTION:
                # Written at most once a minute: a busy client does not make every request a write.
                tok.last_used_at = now
            return Principal(user.name, tuple(user.roles), PrincipalKind(user.kind))


class Action(enum.StrEnum):
    """What a principal does to a dataset (the access layer extends this)."""

    DISCOVER = "discover"
    WRITE = "write"
    REGISTER = "register"
    ADMIN = "admin"


def authorize(principal: Principal, action: Action, *, owner: str | None = None, resource: str = "") -> None:
    """The lake core's own rules, until policies decide.

    Admins may do everything. Any authenticated principal may discover
    datasets. Registering a dataset needs the ``producer`` role. Writing to a
    dataset (ingest, contract change) needs to be its owner: the owner is the
    principal's name or one of its roles (a team).

    Raises:
        AccessDenied: naming subject, action and resource.
    """
    if principal.is_admin or action is Action.DISCOVER:
        return
    if action is Action.REGISTER and PRODUCER_ROLE in principal.roles:
        return
    if action is Action.WRITE and owner and (owner == principal.name or owner in principal.roles):
        return
    reason = {
        Action.REGISTER: "registering datasets needs the producer role",
        Action.WRITE: f"only the owner ({owner}) or an admin may write",
        Action.ADMIN: "needs the admin role",
    }.get(action, "")
    raise AccessDenied(principal.name, action.value, resource or "lakegate", reason)
