"""`Bucket`, like the seed's `qarnot.bucket.Bucket`: a named S3 bucket of the account's storage, with the calls
scripts use to fill it with input files and read results back. Built on `QarnotClient`'s storage calls."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_batch.compat.qarnot.connection import Connection


@dataclass(frozen=True)
class BucketFile:
    """One object of a bucket, as `list_files()` yields it (the seed yields boto3 summaries: scripts read `.key`)."""

    key: str


class Bucket:
    """name: the bucket's name (the seed calls it uuid too); create: create it when missing (the seed's default)."""

    def __init__(self, connection: Connection, name: str, create: bool = True) -> None:
        self._connection = connection
        self._name = name
        if create:
            connection._client.retrieve_or_create_bucket(name)

    @property
    def uuid(self) -> str:
        return self._name

    @property
    def description(self) -> str:
        return self._name

    def add_file(self, local_or_file: str | os.PathLike[str], remote: str | None = None) -> str:
        """Upload a local file, as `remote` (default: its file name); the key it got."""
        return self._connection._client.upload_file(self._name, Path(local_or_file), remote)

    def add_string(self, string: str, remote: str) -> None:
        self._connection._client.get_storage().add_string(self._name, remote, string)

    def add_directory(self, local: str | os.PathLike[str], remote: str = "") -> list[str]:
        """Upload a folder's files, each under `remote` + its path relative to the folder."""
        return self._connection._client.upload_folder(self._name, Path(local), remote)

    def get_file(self, remote: str, local: str | os.PathLike[str] | None = None, progress: Any = None) -> str:
        """Download one object to `local` (default: its key, under the current folder); the local path."""
        target = Path(local) if local is not None else Path(remote)
        return str(self._connection._client.download_file(self._name, remote, target))

    def get_all_files(self, output_dir: str | os.PathLike[str], progress: Any = None) -> list[str]:
        """Download every object into `output_dir`, keeping their paths."""
        return [str(p) for p in self._connection._client.download_folder(self._name, Path(output_dir))]

    def list_files(self) -> list[BucketFile]:
        return [BucketFile(key) for key in self._connection._client.list_files(self._name)]

    def directory(self, directory: str = "") -> list[BucketFile]:
        return [BucketFile(key) for key in self._connection._client.list_files(self._name, directory)]

    def delete(self) -> None:
        """Delete the bucket and what it holds."""
        self._connection._client.delete_bucket(self._name)

    def flush(self) -> None:
        """The seed's legacy no-op: uploads are done when add_* returns."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bucket) and other._name == self._name

    def __hash__(self) -> int:
        return hash(self._name)

    def __repr__(self) -> str:
        return f"Bucket({self._name!r})"
