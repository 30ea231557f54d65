"""The storage credential check in front of moto's S3 server: Qarnot's storage takes the account's email as the
access key and the API token as the secret, so a request must be SigV4-signed with exactly those.

Moto itself accepts any credential; this WSGI wrapper recomputes the signature with botocore's own SigV4 code and
answers S3's XML errors (`InvalidAccessKeyId`, `SignatureDoesNotMatch`, `AccessDenied`) otherwise. The payload hash
is taken from `x-amz-content-sha256`, as S3 does before it streams the body.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Iterable
from typing import Any
from xml.sax.saxutils import escape

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,]+),\s*SignedHeaders=(?P<signed>[^,]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]+)\s*$"
)


def _header(environ: dict[str, Any], name: str) -> str | None:
    key = name.upper().replace("-", "_")
    value = environ.get(key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}")
    return None if value is None else str(value)


def check_signature(environ: dict[str, Any], access_key: str, secret: str) -> tuple[str, str] | None:
    """None if the request is signed by (access_key, secret); else the S3 error (code, message)."""
    match = _AUTH.match(_header(environ, "authorization") or "")
    if match is None:
        return "AccessDenied", "Requests must be signed with AWS Signature Version 4 (the email and the API token)"
    key, _, scope = match["credential"].partition("/")
    parts = [*scope.split("/"), "", "", ""]
    date, region, service = parts[0], parts[1], parts[2]
    if not hmac.compare_digest(key.encode(), access_key.encode()):
        return "InvalidAccessKeyId", "The access key is not the account's email address"
    timestamp = _header(environ, "x-amz-date") or ""
    headers = {}
    for name in match["signed"].split(";"):
        value = _header(environ, name)
        if value is None:
            return "SignatureDoesNotMatch", f"Signed header {name!r} is missing"
        headers[name] = value
    raw_uri = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/"))
    if "?" not in raw_uri and environ.get("QUERY_STRING"):
        raw_uri = f"{raw_uri}?{environ['QUERY_STRING']}"
    request = AWSRequest(method=str(environ["REQUEST_METHOD"]), url=f"http://{headers.get('host', '')}{raw_uri}")
    for name, value in headers.items():
        request.headers[name] = value
    request.context["timestamp"] = timestamp
    signer = S3SigV4Auth(Credentials(access_key, secret), service or "s3", region or "us-east-1")
    canonical = signer.canonical_request(request)
    if not timestamp.startswith(date):
        return "SignatureDoesNotMatch", "x-amz-date does not match the credential scope's date"
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected.encode(), match["signature"].encode()):
        return "SignatureDoesNotMatch", "The request signature does not match the API token"
    return None


class SignatureCheck:
    """WSGI middleware: the wrapped app only sees requests signed with the account's credentials."""

    def __init__(self, app: WsgiApp, access_key: str, secret: str) -> None:
        self.app = app
        self.access_key = access_key
        self.secret = secret

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        problem = check_signature(environ, self.access_key, self.secret)
        if problem is None:
            return self.app(environ, start_response)
        code, message = problem
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
        ).encode()
        start_response("403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
        return [body]
