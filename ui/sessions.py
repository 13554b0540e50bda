"""Server-side sign-in sessions for the web UI.

A person signs in with a user name and password or with an API token. The
server makes a random session id (256 bits), sends it in an HttpOnly,
SameSite=Lax cookie and stores only its SHA-256 digest, with the user, the
sign-in method, a per-session CSRF token and the session's limits: an
absolute lifetime and an idle timeout. Every request re-reads the user, so a
deactivated user or a changed role takes effect at once; a session made from
an API token ends when that token is revoked or expires.

Sign-in always makes a new session id (no fixation); sign-out deletes the row.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lake.auth import Principal, PrincipalKind
from lake.catalog.models import ApiToken, User, utcnow
from lake.errors import InvalidInput
from lake.service import Lake
from ui.errors import SessionExpired, SignInRequired
from ui.models import UiSession

#: Session ids and CSRF tokens: 32 random bytes, URL-safe base64.
_RANDOM_BYTES = 32


class SignInMethod(enum.StrEnum):
    PASSWORD = "password"
    TOKEN = "token"

    @classmethod
    def parse(cls, text: str) -> SignInMethod:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise InvalidInput(f"unknown sign-in method {text!r}; expected password or token") from None


@dataclass(frozen=True)
class SessionPolicy:
    """How long sessions live.

    Attributes:
        lifetime: A session ends this long after sign-in, whatever happens.
        idle: A session ends when unused for this long.
        touch_every: The last-seen time is written at most this often.
    """

    lifetime: dt.timedelta = dt.timedelta(hours=12)
    idle: dt.timedelta = dt.timedelta(hours=2)
    touch_every: dt.timedelta = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class UiSessionInfo:
    """A valid session: who is signed in and the CSRF token of their forms."""

    principal: Principal
    display_name: str
    method: SignInMethod
    csrf_token: str
    created_at: dt.datetime
    expires_at: dt.datetime

    @property
    def user(self) -> str:
        return self.principal.name


def digest(value: str) -> str:
    """SHA-256 hex digest (session ids and tokens are stored only this way)."""
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(_RANDOM_BYTES)


def tokens_match(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a CSRF token with what a form sent."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


class SessionStore:
    """Sessions in the catalog's ``ui_sessions`` table.

    Args:
        lake: The open lake (its catalog and users).
        policy: Lifetime and idle limits.
        clock: The current time (tests move it forward).
    """

    def __init__(self, lake: Lake, policy: SessionPolicy | None = None,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.lake = lake
        self.catalog = lake.catalog
        self.policy = policy or SessionPolicy()
        self.clock = clock

    # -- sign-in -------------------------------------------------------------------------

    def sign_in_password(self, name: str, password: str, *, address: str | None = None
                         ) -> tuple[str, UiSessionInfo]:
        """Check a password and open a session.

        Args:
            name: The user name.
            password: The password.
            address: The client's address (sign-ins are throttled per account and per address).

        Returns:
            The new session id (for the cookie; never stored) and the session.

        Raises:
            AuthenticationError: unknown user, wrong password, or a deactivated user.
            TooManyRequests: too many failed sign-ins; wait ``retry_after`` seconds.
        """
        principal = self.lake.users.check_password(name.strip(), password, address=address)
        return self._open(principal, SignInMethod.PASSWORD, None)

    def sign_in_token(self, token: str) -> tuple[str, UiSessionInfo]:
        """Check an API token and open a session that lasts no longer than the token.

        Raises:
            AuthenticationError: unknown, revoked or expired token, or a deactivated user.
        """
        token = token.strip()
        principal = self.lake.users.authenticate(token)
        return self._open(principal, SignInMethod.TOKEN, digest(token))

    def _open(self, principal: Principal, method: SignInMethod, token_hash: str | None) -> tuple[str, UiSessionInfo]:
        session_id = new_secret()
        now = self.clock()
        expires = now + self.policy.lifetime
        with self.catalog.session() as s:
            s.execute(delete(UiSession).where(UiSession.expires_at <= now))
            if token_hash is not None:
                token = s.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash)).first()
                if token is not None and token.expires_at is not None:
                    expires = min(expires, token.expires_at)
            user = s.scalars(select(User).where(User.name == principal.name)).one()
            row = UiSession(id_hash=digest(session_id), user_name=principal.name, method=method.value,
                            token_hash=token_hash, csrf_token=new_secret(), created_at=now, last_seen_at=now,
                            expires_at=expires)
            s.add(row)
            s.flush()
            info = UiSessionInfo(principal, user.display_name or principal.name, method, row.csrf_token, now, expires)
        return session_id, info

    # -- each request ----------------------------------------------------------------------

    def resolve(self, session_id: str | None) -> UiSessionInfo:
        """The session a cookie names, with the user as the catalog has it now.

        Raises:
            SignInRequired: no cookie, or no such session.
            SessionExpired: past its lifetime or idle limit, the user was
                deactivated, or its API token was revoked or expired; the row is deleted.
        """
        if not session_id:
            raise SignInRequired()
        now = self.clock()
        with self.catalog.session() as s:
            row = s.scalars(select(UiSession).where(UiSession.id_hash == digest(session_id))).first()
            if row is None:
                raise SignInRequired()
            reason = self._invalid(s, row, now)
            if reason is None:
                user = s.scalars(select(User).where(User.name == row.user_name)).first()
                if user is None or not user.is_active:
                    reason = "the user was deactivated"
            if reason is not None:
                s.delete(row)
            else:
                assert user is not None
                if now - row.last_seen_at >= self.policy.touch_every:
                    row.last_seen_at = now
                principal = Principal(user.name, tuple(user.roles), PrincipalKind(user.kind))
                info = UiSessionInfo(principal, user.display_name or user.name, SignInMethod(row.method),
                                     row.csrf_token, row.created_at, row.expires_at)
        if reason is not None:
            raise SessionExpired(reason)
        return info

    def _invalid(self, s: Session, row: UiSession, now: dt.datetime) -> str | None:
        if row.expires_at <= now:
            return "it reached its time limit"
        if now - row.last_seen_at >= self.policy.idle:
            return "it was idle too long"
        if row.token_hash is not None:
            token = s.scalars(select(ApiToken).where(ApiToken.token_hash == row.token_hash)).first()
            if token is None or token.revoked_at is not None:
                return "the API token it was made with was revoked"
            if token.expires_at is not None and token.expires_at <= now:
                return "the API token it was made with expired"
        return None

    # -- sign-out ---------------------------------------------------------------------------

    def sign_out(self, session_id: str | None) -> bool:
        """Delete the session; whether there was one."""
        if not session_id:
            return False
        with self.catalog.session() as s:
            result = s.execute(delete(UiSession).where(UiSession.id_hash == digest(session_id)))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def sign_out_user(self, user: str) -> int:
        """Delete every session of ``user`` (after a password change or deactivation)."""
        with self.catalog.session() as s:
            result = s.execute(delete(UiSession).where(UiSession.user_name == user))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def purge_expired(self) -> int:
        """Delete sessions past their lifetime."""
        with self.catalog.session() as s:
            result = s.execute(delete(UiSession).where(UiSession.expires_at <= self.clock()))
            return int(result.rowcount)  # type: ignore[attr-defined]
