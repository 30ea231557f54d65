"""Qarnot buckets: plain S3 at the storage URL, with the user's email as access key and the API token as secret.

`QarnotStorage` is synchronous (boto3); the asyncio client runs it in a thread, never on the event loop.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, ParamValidationError

from airflow_provider_batch.clients.qarnot.errors import (
    QarnotError,
    QarnotMissingBucketError,
    QarnotUnauthorizedError,
    QarnotUnavailableError,
    error_for,
    network_error,
)
from airflow_provider_batch.common.errors import InvalidJobSpecError

MAX_KEY_LENGTH = 1024  # S3's limit on an object key, in UTF-8 bytes
# S3 bucket naming rules: 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
BUCKET_FIX = "3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit (S3 rules)"


def check_bucket_name(name: object, field: str = "bucket") -> str:
    """The bucket name if S3 accepts it; InvalidJobSpecError naming `field` if not (never worth a retry)."""
    if not isinstance(name, str):
        raise InvalidJobSpecError(field, f"is a {type(name).__name__}, not a bucket name", BUCKET_FIX)
    shown = name[:80]
    if not _BUCKET.fullmatch(name) or ".." in name or ".-" in name or "-." in name:
        raise InvalidJobSpecError(field, f"{shown!r} is not a valid bucket name", BUCKET_FIX)
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return name
    raise InvalidJobSpecError(field, f"{shown!r} is an IP address, not a bucket name", BUCKET_FIX)


def check_key(key: object, field: str = "key") -> str:
    """The object key if it is safe: a relative path of at most 1024 bytes, no NUL, no `..` segment."""
    fix = "use a relative path such as 'results/out.csv', without '..' segments, at most 1024 bytes"
    if not isinstance(key, str):
        raise InvalidJobSpecError(field, f"is a {type(key).__name__}, not an object key", fix)
    shown = key[:80]
    if not key:
        raise InvalidJobSpecError(field, "is empty", fix)
    if "\x00" in key:
        raise InvalidJobSpecError(field, f"{shown!r} holds a NUL character", fix)
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_LENGTH:
        raise InvalidJobSpecError(field, f"is longer than {MAX_KEY_LENGTH} bytes", fix)
    if key.startswith("/"):
        raise InvalidJobSpecError(field, f"{shown!r} starts with '/'", fix)
    if ".." in key.replace("\\", "/").split("/"):
        raise InvalidJobSpecError(field, f"{shown!r} has a '..' segment", fix)
    return key


def check_prefix(prefix: object, field: str = "prefix") -> str:
    """A key prefix: empty, or a key (it may end with '/')."""
    if prefix == "":
        return ""
    return check_key(prefix, field)


_MISSING_CODES = frozenset({"NoSuchBucket", "404", "NotFound"})
_DENIED_CODES = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"})


def storage_error(call: str, error: Exception) -> QarnotError:
    """boto3's errors as the client's typed errors."""
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        code = str(info.get("Code") or "")
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        message = str(info.get("Message") or code)
        if code in _MISSING_CODES or status == 404:
            return QarnotMissingBucketError(call, str(status or code), message)
        if code in _DENIED_CODES:
            return QarnotUnauthorizedError(call, str(status or code), message)
        return error_for(call, status or 400, "", message)
    if isinstance(error, ParamValidationError):  # boto3 refused the arguments: no retry can change that
        return QarnotError(call, "invalid request", str(error), retryable=False)
    if isinstance(error, (EndpointConnectionError, BotoCoreError, OSError)):
        return network_error(call, error)
    return QarnotUnavailableError(call, type(error).__name__, str(error))


class QarnotStorage:
    """Buckets and their files. endpoint_url: the S3 endpoint; email and token: the user's S3 credentials."""

    def __init__(
        self, endpoint_url: str, email: str, token: str, verify: bool | str = True, timeout: float = 30.0
    ) -> None:
        config = Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 5, "mode": "standard"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": "path"},
        )
        self.endpoint_url = endpoint_url
        self._boto_arguments: dict[str, Any] = {
            "endpoint_url": endpoint_url,
            "aws_access_key_id": email,
            "aws_secret_access_key": token,
            "region_name": "us-east-1",
            "verify": verify,
            "config": config,
        }
        self._s3: Any = boto3.session.Session().client("s3", **self._boto_arguments)

    @property
    def s3client(self) -> Any:
        """The boto3 S3 client on the storage endpoint (the user's credentials, the configured TLS check)."""
        return self._s3

    def s3resource(self) -> Any:
        """A boto3 S3 resource with the same endpoint, credentials and TLS check (a new one each call)."""
        return boto3.session.Session().resource("s3", **self._boto_arguments)

    def _call(self, call: str, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._s3, method)(**kwargs)
        except (ClientError, BotoCoreError, OSError) as error:
            raise storage_error(call, error) from None

    # -- buckets ----------------------------------------------------------------------------------------------

    def create_bucket(self, name: str) -> str:
        """Create the bucket (an existing bucket of yours is fine); its name."""
        check_bucket_name(name)
        try:
            self._s3.create_bucket(Bucket=name)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise storage_error(f"create bucket {name}", error) from None
        except (BotoCoreError, OSError) as error:
            raise storage_error(f"create bucket {name}", error) from None
        return name

    def retrieve_bucket(self, name: str) -> str:
        """The bucket's name if it exists; QarnotMissingBucketError if not."""
        check_bucket_name(name)
        self._call(f"retrieve bucket {name}", "head_bucket", Bucket=name)
        return name

    def retrieve_or_create_bucket(self, name: str) -> str:
        try:
            return self.retrieve_bucket(name)
        except QarnotMissingBucketError:
            return self.create_bucket(name)

    def buckets(self) -> list[str]:
        answer = self._call("list buckets", "list_buckets")
        return [b["Name"] for b in answer.get("Buckets", [])]

    def delete_bucket(self, name: str) -> None:
        """Delete every object of the bucket, then the bucket."""
        check_bucket_name(name)
        for key in self.list_files(name):
            self._call(f"delete {name}/{key}", "delete_object", Bucket=name, Key=key)
        self._call(f"delete bucket {name}", "delete_bucket", Bucket=name)

    # -- files ------------------------------------------------------------------------------------------------

    def list_files(self, bucket: str, prefix: str = "") -> list[str]:
        check_bucket_name(bucket)
        check_prefix(prefix)
        keys: list[str] = []
        token: str | None = None
        while True:
            args: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
            if token:
                args["ContinuationToken"] = token
            answer = self._call(f"list files of {bucket}", "list_objects_v2", **args)
            keys += [item["Key"] for item in answer.get("Contents", [])]
            token = answer.get("NextContinuationToken")
            if not answer.get("IsTruncated") or not token:
                return keys

    def upload_file(self, bucket: str, local: str | Path, key: str | None = None) -> str:
        check_bucket_name(bucket)
        key = check_key(key or Path(local).name)
        try:
            self._s3.upload_file(str(local), bucket, key)
        except (ClientError, BotoCoreError, OSError) as error:
            raise storage_error(f"upload {local} to {bucket}", error) from None
        return key

    def upload_folder(self, bucket: str, local: str | Path, prefix: str = "") -> list[str]:
        """Every file under `local`, keyed by its path relative to it (under `prefix`)."""
        check_bucket_name(bucket)
        check_prefix(prefix)
        root = Path(local)
        if not root.is_dir():
            raise ValueError(f"{root} is not a folder")
        keys = []
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            keys.append(self.upload_file(bucket, path, prefix + path.relative_to(root).as_posix()))
        return keys

    def add_string(self, bucket: str, key: str, text: str) -> None:
        check_bucket_name(bucket)
        check_key(key)
        self._call(f"put {bucket}/{key}", "put_object", Bucket=bucket, Key=key, Body=text.encode())

    def read_string(self, bucket: str, key: str) -> str:
        check_bucket_name(bucket)
        check_key(key)
        answer = self._call(f"get {bucket}/{key}", "get_object", Bucket=bucket, Key=key)
        return str(answer["Body"].read().decode())

    def download_file(self, bucket: str, key: str, local: str | Path) -> Path:
        check_bucket_name(bucket)
        check_key(key)
        target = Path(local)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._s3.download_file(bucket, key, str(target))
        except (ClientError, BotoCoreError, OSError) as error:
            raise storage_error(f"download {bucket}/{key}", error) from None
        return target

    def download_folder(self, bucket: str, local: str | Path, prefix: str = "") -> list[Path]:
        """Every object of the bucket (under `prefix`) into `local`, keeping the relative paths; refuses keys that
        would land outside `local`."""
        check_bucket_name(bucket)
        check_prefix(prefix)
        root = Path(local).resolve()
        paths = []
        for key in self.list_files(bucket, prefix):
            if key.endswith("/"):
                continue
            try:  # the bucket's contents are not trusted: a key such as "x/.." is refused, not downloaded
                check_key(key)
            except InvalidJobSpecError as error:
                raise QarnotError(f"download {bucket}/{key[:80]}", "unsafe key", str(error)) from None
            target = (root / key[len(prefix) :].lstrip("/")).resolve()
            if os.path.commonpath([root, target]) != str(root):
                raise QarnotError(f"download {bucket}/{key}", "unsafe key", "the key leaves the target folder")
            paths.append(self.download_file(bucket, key, target))
        return paths
