"""The credential the Apolo emulator hands out: a platform-style JWT (the SDK reads its `identity` claim, unverified,
for `client.username`) and the base64 passed-config blob the platform gives jobs and service accounts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

IDENTITY_CLAIM = "identity"
LEGACY_IDENTITY_CLAIM = "https://platform.neuromation.io/user"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and all(token.split("."))


def make_token(secret: str, user: str) -> str:
    """A HS256 JWT for `user`, signed with `secret`: the same secret and user always give the same token."""
    if looks_like_jwt(secret):
        return secret  # already a JWT (e.g. `--token` given one): accept it as it is
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {IDENTITY_CLAIM: user, LEGACY_IDENTITY_CLAIM: user, "sub": user}
    payload = _b64url(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


def passed_config(token: str, cluster: str, url: str, org: str, project: str) -> str:
    """base64 of `{token, cluster, url, org_name, project_name}`: what `APOLO_PASSED_CONFIG` holds."""
    document = {"token": token, "cluster": cluster, "url": url, "org_name": org, "project_name": project}
    return base64.b64encode(json.dumps(document).encode()).decode("ascii")
