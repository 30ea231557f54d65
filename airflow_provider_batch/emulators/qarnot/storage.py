"""The Qarnot emulator's storage: moto's S3 server run in-process (a real S3 implementation, not a hand-written
one) behind the email/token signature check, and the bucket sync a Qarnot compute node does: resource buckets into
an instance's folder before it runs, the folder's new or changed files into the result bucket after.

Everything here is blocking (boto3, werkzeug); the emulator calls it through `asyncio.to_thread`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from airflow_provider_batch.emulators.qarnot.s3auth import SignatureCheck

log = logging.getLogger(__name__)
REGION = "us-east-1"


class SignedMotoServer(ThreadedMotoServer):
    """moto's threaded S3 server, answering only requests signed with (access_key, secret)."""

    def __init__(self, host: str, port: int, access_key: str, secret: str) -> None:
        super().__init__(ip_address=host, port=port, verbose=False)
        self._access_key = access_key
        self._secret = secret
        self._error: str | None = None

    def _server_entry(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not one INFO line per S3 request
        app = DomainDispatcherApplication(create_backend_app)  # S3, from the signed credential scope
        try:
            self._server = make_server(
                self._ip_address,
                self._port,
                SignatureCheck(app, self._access_key, self._secret),
                True,
                request_handler=MotoRequestHandler,
            )
        except (OSError, SystemExit) as err:  # werkzeug exits on a busy port: say so, do not leave start() waiting
            self._error = "the port is in use" if isinstance(err, SystemExit) else str(err)
            self._server_ready_event.set()
            return
        self._server_ready_event.set()
        self._server.serve_forever()

    def start(self) -> None:
        super().start()
        if self._error is not None:
            raise OSError(f"cannot serve S3 on {self._ip_address}:{self._port}: {self._error}")


def md5_of(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def digests(folder: str) -> dict[str, str]:
    """{relative path: md5} of every file under `folder` (what a run's outputs are compared against)."""
    found: dict[str, str] = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if os.path.isfile(path) and not os.path.islink(path):
                found[os.path.relpath(path, folder).replace(os.sep, "/")] = md5_of(path)
    return found


@dataclass(frozen=True)
class ResourceSpec:
    """One `advancedResourceBuckets` entry: the bucket, the key prefix to take, the prefix to strip from keys."""

    bucket: str
    prefix: str = ""
    strip: str = ""

    @classmethod
    def from_json(cls, entry: Any) -> ResourceSpec:
        if isinstance(entry, str):  # legacy `resourceBuckets`: plain names
            return cls(entry)
        filtering = (entry.get("filtering") or {}).get("prefixFiltering") or {}
        transformation = (entry.get("resourcesTransformation") or {}).get("stripPrefix") or {}
        name = str(entry.get("bucketName") or "")
        return cls(name, filtering.get("prefix") or "", transformation.get("prefix") or "")


@dataclass
class UploadSelection:
    """Which files of an instance folder go to a bucket, and under which key: those that are new or changed since
    the folder was staged (`baseline`) and since they were last uploaded there (`already`, key -> md5), that pass
    the white and black lists (regular expressions on the relative path), under `prefix`."""

    baseline: dict[str, str]
    already: dict[str, str]
    whitelist: str | None = None
    blacklist: str | None = None
    prefix: str = ""

    def key_for(self, relative: str, digest: str) -> str | None:
        key = self.prefix + relative
        if self.baseline.get(relative) == digest or self.already.get(key) == digest:
            return None
        if self.whitelist and not re.search(self.whitelist, relative):
            return None
        if self.blacklist and re.search(self.blacklist, relative):
            return None
        return key


class BucketSync:
    """Moves files between buckets and instance folders with a boto3 client signed like the SDK's."""

    def __init__(self, url: str, access_key: str, secret: str) -> None:
        self._client = boto3.session.Session().client(
            "s3",
            endpoint_url=url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret,
            region_name=REGION,
            config=Config(request_checksum_calculation="when_required", retries={"max_attempts": 3}),
        )
        self.url = url

    def exists(self, bucket: str) -> bool:
        try:
            self._client.head_bucket(Bucket=bucket)
        except ClientError as err:
            if str(err.response.get("Error", {}).get("Code")) in ("404", "NoSuchBucket", "NotFound"):
                return False
            raise
        return True

    def download(self, spec: ResourceSpec, folder: str) -> int:
        """Copy the bucket's objects under `spec.prefix` into `folder` (keys stripped of `spec.strip`); how many."""
        count = 0
        root = os.path.realpath(folder)
        for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=spec.bucket, Prefix=spec.prefix):
            for item in page.get("Contents", []):
                key = str(item["Key"])
                if key.endswith("/"):
                    continue  # a "directory" marker
                relative = key[len(spec.strip) :] if spec.strip and key.startswith(spec.strip) else key
                target = os.path.realpath(os.path.join(root, relative.lstrip("/")))
                if not target.startswith(root + os.sep):
                    log.warning("bucket %s: key %r escapes the task folder; skipped", spec.bucket, key)
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                self._client.download_file(spec.bucket, key, target)
                count += 1
        return count

    def upload(self, folder: str, bucket: str, selection: UploadSelection) -> list[str]:
        """Upload the files of `folder` that `selection` takes; the keys written (also noted in the selection)."""
        keys: list[str] = []
        for relative, digest in sorted(digests(folder).items()):
            key = selection.key_for(relative, digest)
            if key is None:
                continue
            self._client.upload_file(os.path.join(folder, relative), bucket, key)
            selection.already[key] = digest
            keys.append(key)
        return keys
