"""Server-side sessions (a random token in an HttpOnly, SameSite=Strict cookie), their CSRF
tokens, and the failed-login throttle.

Sessions live in this process only: a restart logs everyone out, and logging out really ends a
session (a signed client-side cookie could not be revoked).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.serve.accounts import User

COOKIE = "packs_session"
#: A session unused this long is gone.
IDLE_SECONDS = 8 * 3600
#: Sessions kept at most (anonymous ones included): the oldest go first.
MAX_SESSIONS = 10_000


@dataclass
class Session:
    token: str
    csrf: str
    user: User | None = None
    last_seen: float = 0.0


class SessionStore:
    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_sessions: int = MAX_SESSIONS
    ) -> None:
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._clock = clock
        self._max = max_sessions

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        session = self._sessions.get(token)
        now = self._clock()
        if session is None or now - session.last_seen > IDLE_SECONDS:
            self._sessions.pop(token, None)
            return None
        session.last_seen = now
        self._sessions.move_to_end(token)
        return session

    def new(self, user: User | None = None) -> Session:
        while len(self._sessions) >= self._max:
            self._sessions.popitem(last=False)
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), user, self._clock())
        self._sessions[session.token] = session
        return session

    def end(self, token: str) -> None:
        self._sessions.pop(token, None)


def csrf_ok(session: Session | None, sent: object) -> bool:
    return (
        session is not None
        and isinstance(sent, str)
        and hmac.compare_digest(session.csrf.encode(), sent.encode())
    )


@dataclass
class _Failures:
    count: int = 0
    until: float = 0.0


@dataclass
class LoginThrottle:
    """Failed logins per account name and per client address. After `free` failures for a name
    (`address_free` for an address, which many people may share behind a proxy) each further one
    locks that key for `base` seconds, doubling, up to `cap`; a success clears the name."""

    free: int = 5
    address_free: int = 20
    base: float = 30.0
    cap: float = 900.0
    clock: Callable[[], float] = time.monotonic
    max_keys: int = 50_000
    _keys: OrderedDict[str, _Failures] = field(default_factory=OrderedDict)

    def retry_after(self, keys: tuple[str, ...]) -> float:
        """Seconds until a login for these keys is allowed again (0 = now)."""
        now = self.clock()
        waits = [f.until - now for k in keys if (f := self._keys.get(k)) is not None]
        return max([0.0, *waits])

    def failed(self, name_key: str, address_key: str) -> None:
        now = self.clock()
        for key, free in ((name_key, self.free), (address_key, self.address_free)):
            failures = self._keys.pop(key, None) or _Failures()
            failures.count += 1
            if failures.count >= free:
                failures.until = now + min(self.cap, self.base * 2 ** (failures.count - free))
            self._keys[key] = failures
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)

    def succeeded(self, key: str) -> None:
        self._keys.pop(key, None)
