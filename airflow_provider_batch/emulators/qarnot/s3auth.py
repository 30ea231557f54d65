"""The storage credential check in front of moto's S3 server: Qarnot's storage takes the account's email as the
access key and the API token as the secret, so a request must be SigV4-signed with exactly those.

Moto itself accepts any credential; this WSGI wrapper recomputes the signature with botocore's own SigV4 code and
answers S3's XML errors (`InvalidAccessKeyId`, `SignatureDoesNotMatch`, `AccessDenied`) otherwise. The payload hash
is taken from `x-amz-content-sha256`, as S3 does before it streams the body: an unsigned request is refused before
any of its body is read.

moto reads a request's whole body into memory, so a signed request may carry at most `MAX_S3_REQUEST_BODY` bytes
(one PUT, or one part of a multipart upload: boto3 and the Qarnot SDK upload larger files in parts of 8 MiB), as
its Content-Length says before it is read: S3's `EntityTooLarge` otherwise. A body without Content-Length (chunked)
is refused with S3's `MissingContentLength` (411), as S3 does.
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

MAX_S3_REQUEST_BODY = 256 * 1024 * 1024
"""The largest body one storage request may carry (256 MiB); objects larger than that go up in parts."""
_WITH_BODY = ("PUT", "POST")
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


def check_size(environ: dict[str, Any], limit: int = MAX_S3_REQUEST_BODY) -> tuple[str, str, str] | None:
    """None if the request's body may be read; else S3's (HTTP status, code, message)."""
    length = _header(environ, "content-length")
    if not length:
        if str(environ.get("REQUEST_METHOD")) in _WITH_BODY and "chunked" in (
            _header(environ, "transfer-encoding") or ""
        ):
            return "411 Length Required", "MissingContentLength", "You must provide the Content-Length HTTP header."
        return None
    try:
        size = int(length)
    except ValueError:
        return "400 Bad Request", "InvalidArgument", "Content-Length is not a number of bytes"
    if size > limit:
        message = (
            f"Your proposed upload exceeds the maximum allowed size of this storage ({limit // (1024 * 1024)} MiB "
            "per request); upload large files in parts (multipart upload)"
        )
        return "400 Bad Request", "EntityTooLarge", message
    return None


def _error(start_response: Callable[..., Any], status: str, code: str, message: str) -> Iterable[bytes]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
    ).encode()
    # the body was not read: the connection closes rather than parse it as the next request
    headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(body))), ("Connection", "close")]
    start_response(status, headers)
    return [body]


class SignatureCheck:
    """WSGI middleware: the wrapped app only sees requests signed with the account's credentials."""

    def __init__(self, app: WsgiApp, access_key: str, secret: str) -> None:
        self.app = app
        self.access_key = access_key
        self.secret = secret

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        problem = check_signature(environ, self.access_key, self.secret)
        if problem is not None:
            return _error(start_response, "403 Forbidden", *problem)
        refused = check_size(environ)
        if refused is not None:
            return _error(start_response, *refused)
        return self.app(environ, start_response)
