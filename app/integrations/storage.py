"""Where uploaded documents' bytes live.

The database keeps each document's metadata and an opaque `storage_key`; a
`DocumentStore` keeps the bytes under that key. The application uses one store, built
from the settings the first time a request needs it (`app.extensions.document_store()`).

`LocalDocumentStore` keeps files on a local (or mounted) filesystem. Storage shared by
several pods, such as an S3-compatible object store, is meant to be added later as
another class with the same three methods, chosen in `store_for()` from the
settings; nothing outside this module needs to change for it.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import Protocol

from app.config import Settings

# Keys are ours (see new_key()); anything else, and in particular a separator or a
# dot that could climb out of the root, is refused before touching the filesystem.
_KEY = re.compile(r"^[A-Za-z0-9_-]{4,200}$")


class StoredFileMissing(LookupError):
    """The store has nothing under the key: the metadata and the bytes disagree."""


class DocumentStore(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing whatever was there, all or nothing."""

    def get(self, key: str) -> bytes:
        """The bytes stored under `key`; StoredFileMissing when there are none."""

    def delete(self, key: str) -> None:
        """Remove the bytes under `key`; a key already gone is not an error."""


def new_key() -> str:
    """A fresh key: random, so it reveals nothing about the owner or the file."""
    return uuid.uuid4().hex


class LocalDocumentStore:
    """Files under `root`, in two levels of folders named by the key's first characters
    (so no single folder grows to millions of entries)."""

    def __init__(self, root: Path) -> None:
        # Resolved once, so a later change of working directory cannot move the store.
        self.root = root.resolve()

    def path_of(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a document store key: {key!r}")
        return self.root / key[:2] / key[2:4] / key

    def put(self, key: str, data: bytes) -> None:
        target = self.path_of(key)
        # Owner-only permissions: these are tax forms, bank letters and licenses.
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Written beside the target and renamed over it, so a reader (or a crash) never
        # sees a half-written file under the key.
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self.path_of(key).read_bytes()
        except FileNotFoundError as exc:
            raise StoredFileMissing(key) from exc

    def delete(self, key: str) -> None:
        self.path_of(key).unlink(missing_ok=True)


def store_for(settings: Settings) -> DocumentStore:
    return LocalDocumentStore(settings.document_storage_path)
