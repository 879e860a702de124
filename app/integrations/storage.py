"""Where uploaded documents' bytes live.

The database keeps each document's metadata and an opaque `storage_key`; a
`DocumentStore` keeps the bytes under that key. The application uses one store, built
from the settings the first time a request needs it (`app.extensions.document_store()`).

That store is an `EncryptedDocumentStore`: it encrypts each file before another store
keeps it, and decrypts it when read (app/integrations/document_crypto.py), so the
volume holding the files, and its backups, hold no document in the clear.

`LocalDocumentStore` keeps the files on a local (or mounted) filesystem. Storage shared
by several pods, such as an S3-compatible object store, is meant to be added later as
another class with the same four methods, chosen in `store_for()` from the settings;
nothing outside this module needs to change for it.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from app.config import Settings
from app.integrations.document_crypto import DecryptionFailed, Keyring, is_sealed

log = logging.getLogger(__name__)

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

    def keys(self) -> Iterator[str]:
        """Every key with bytes stored under it, in no particular order."""


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

    def keys(self) -> Iterator[str]:
        # Only files where path_of() puts them: not the temporary files of put(), whose
        # names start with a dot, nor anything else left in the folder.
        for path in self.root.glob("*/*/*"):
            if _KEY.match(path.name) and path == self.path_of(path.name) and path.is_file():
                yield path.name


@dataclass
class EncryptionReport:
    """What `EncryptedDocumentStore.encrypt_stored()` found, file by file."""

    # Stored in the clear, now encrypted.
    encrypted: int = 0
    # Their key wrapped under an older master key, now under the current one.
    rewrapped: int = 0
    # Already encrypted under the current master key: left as they were.
    current: int = 0
    # Key and reason of each file that does not open: left as it was.
    unreadable: list[tuple[str, str]] = field(default_factory=list)


class EncryptedDocumentStore:
    """Keeps files in `inner` encrypted: each sealed under a key of its own, bound to its
    storage key (`Keyring.seal`), opened again when read. A file that does not open
    raises DecryptionFailed."""

    def __init__(self, inner: DocumentStore, keyring: Keyring) -> None:
        self.inner = inner
        self.keyring = keyring

    def put(self, key: str, data: bytes) -> None:
        self.inner.put(key, self.keyring.seal(data, key))

    def get(self, key: str) -> bytes:
        stored = self.inner.get(key)
        if is_sealed(stored):
            return self.keyring.open(stored, key)
        # A file stored before documents were encrypted, until `flask documents
        # encrypt-stored` has encrypted it: returned as it is, for its one reader checks
        # it against the SHA-256 recorded at its upload (documents.read_content), which
        # no other bytes pass. Refusing it would make every earlier document unreadable
        # until the command has run, and protect nothing: plaintext on the volume is
        # exposed whether or not it is served, and whoever can write there cannot pass
        # off other bytes through this path.
        log.warning("document file %s is stored unencrypted (see encrypt-stored)", key)
        return stored

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def keys(self) -> Iterator[str]:
        return self.inner.keys()

    def encrypt_stored(self) -> EncryptionReport:
        """Bring every stored file to encrypted under the current master key: encrypt
        those stored in the clear, rewrap the key of those under an older master key
        (their content untouched). Idempotent, and each file replaced whole (the inner
        store's put), so it runs beside the service and may be run again after a stop.
        A file deleted between its reading and its rewriting is written back, encrypted:
        an orphan with no row, like those a failed removal leaves."""
        report = EncryptionReport()
        # Listed first: the folders change as files are replaced.
        for key in list(self.inner.keys()):
            try:
                stored = self.inner.get(key)
            except StoredFileMissing:
                continue  # deleted meanwhile
            if not is_sealed(stored):
                self.inner.put(key, self.keyring.seal(stored, key))
                report.encrypted += 1
                continue
            try:
                rewrapped = self.keyring.rewrap(stored)
            except DecryptionFailed as exc:
                report.unreadable.append((key, str(exc)))
                continue
            if rewrapped is None:
                report.current += 1
            else:
                self.inner.put(key, rewrapped)
                report.rewrapped += 1
        return report


def store_for(settings: Settings) -> EncryptedDocumentStore:
    return EncryptedDocumentStore(
        LocalDocumentStore(settings.document_storage_path),
        Keyring(settings.document_encryption_keys),
    )
