"""The one credential an emulator accepts, checked the way Armada and Apolo read `authorization`."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets


def new_token() -> str:
    """A random token for an emulator started without one."""
    return secrets.token_urlsafe(24)


class TokenAuth:
    """Accepts `Bearer <token>`, or `Basic base64(<any user>:<token>)`; `bare=True` also accepts the bare token
    (Qarnot's `Authorization: <token>` has no scheme)."""

    def __init__(self, token: str, bare: bool = False) -> None:
        if not token:
            raise ValueError("an emulator needs a non-empty token")
        self.token = token
        self.bare = bare

    def check(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer":
            return self._same(value.strip())
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return self._same(decoded.partition(":")[2])
        return self.bare and self._same(header.strip())

    def _same(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode("utf-8"), self.token.encode("utf-8"))
