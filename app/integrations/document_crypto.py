"""Documents encrypted at rest: envelope encryption with AES-256-GCM.

Each file is encrypted with a key of its own (its data key: 32 random bytes, used once),
and that key is kept beside the ciphertext, wrapped (AES key wrap, RFC 3394) under a
master key of DOCUMENT_ENCRYPTION_KEYS. A stolen volume, disk or backup of the documents
is then unreadable without the settings, and a new master key means rewriting each
file's small header (`Keyring.rewrap`), never its content.

An envelope says which format and which master key open it:

    offset  bytes  content
    0       6      MAGIC
    6       1      the format's version, 1
    7       1      n, the length of the master key's id
    8       n      the master key's id (ASCII)
    8+n     40     the data key, wrapped under that master key
    48+n    12     the nonce (random)
    60+n    ...    the ciphertext, GCM's 16-byte tag last

The ciphertext is bound (GCM's associated data) to the format and to the storage key it
was sealed under, so one document's file moved under another document's key does not
open. The master key's id and the wrapped key are left out of it, since a rewrap changes
them; changed any other way, the data key no longer unwraps (key wrap checks its own
integrity).

No I/O and no Flask here: the store (app/integrations/storage.py) reads and writes the
envelopes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from app.config import MasterKey

MAGIC = b"MSCENC"
VERSION = 1
_WRAPPED_KEY_BYTES = 40  # a 32-byte key wrapped: RFC 3394 adds 8
_NONCE_BYTES = 12
_TAG_BYTES = 16


class DecryptionFailed(ValueError):
    """The bytes do not open: damaged or tampered with, sealed under another storage key,
    or under a master key the keyring does not hold."""


def is_sealed(data: bytes) -> bool:
    """Whether `data` is an envelope; if not, a file stored before documents were
    encrypted. No upload is taken for one: each starts with its type's own signature
    (%PDF-, PNG's or JPEG's; app/domain/documents.py), never with MAGIC."""
    return data.startswith(MAGIC)


@dataclass(frozen=True)
class Envelope:
    key_id: str
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes

    def to_bytes(self) -> bytes:
        key_id = self.key_id.encode("ascii")
        header = (MAGIC, bytes((VERSION, len(key_id))), key_id, self.wrapped_key, self.nonce)
        return b"".join((*header, self.ciphertext))

    @classmethod
    def parse(cls, data: bytes) -> Envelope:
        if not is_sealed(data):
            raise DecryptionFailed("not an encrypted file")
        start = len(MAGIC) + 2
        if len(data) < start:
            raise DecryptionFailed("the encrypted file is cut short")
        version, id_length = data[len(MAGIC)], data[len(MAGIC) + 1]
        if version != VERSION:
            raise DecryptionFailed(f"encrypted in format {version}, which this version lacks")
        wrapped_at = start + id_length
        nonce_at = wrapped_at + _WRAPPED_KEY_BYTES
        ciphertext_at = nonce_at + _NONCE_BYTES
        if len(data) < ciphertext_at + _TAG_BYTES:
            raise DecryptionFailed("the encrypted file is cut short")
        try:
            key_id = data[start:wrapped_at].decode("ascii")
        except UnicodeDecodeError:
            raise DecryptionFailed("the master key's id is not ASCII") from None
        return cls(
            key_id=key_id,
            wrapped_key=data[wrapped_at:nonce_at],
            nonce=data[nonce_at:ciphertext_at],
            ciphertext=data[ciphertext_at:],
        )


def _associated_data(storage_key: str) -> bytes:
    return MAGIC + bytes((VERSION,)) + storage_key.encode("utf-8")


class Keyring:
    """The master keys: the first seals, and each opens what it sealed."""

    def __init__(self, keys: Sequence[MasterKey]) -> None:
        if not keys:
            raise ValueError("a keyring needs a master key")
        self.current = keys[0]
        self._secrets = {key.key_id: key.secret for key in keys}

    def seal(self, data: bytes, storage_key: str) -> bytes:
        """`data` encrypted under a fresh data key, as stored under `storage_key`."""
        data_key = AESGCM.generate_key(bit_length=256)
        # Random, and used once: each data key encrypts a single file.
        nonce = os.urandom(_NONCE_BYTES)
        return Envelope(
            key_id=self.current.key_id,
            wrapped_key=aes_key_wrap(self.current.secret, data_key),
            nonce=nonce,
            ciphertext=AESGCM(data_key).encrypt(nonce, data, _associated_data(storage_key)),
        ).to_bytes()

    def open(self, sealed: bytes, storage_key: str) -> bytes:
        """The bytes `sealed` holds, provided it was sealed under `storage_key` and is
        unchanged since; DecryptionFailed otherwise."""
        envelope = Envelope.parse(sealed)
        data_key = self._unwrap(envelope)
        try:
            return AESGCM(data_key).decrypt(
                envelope.nonce, envelope.ciphertext, _associated_data(storage_key)
            )
        except InvalidTag:
            raise DecryptionFailed(
                "the content does not verify: tampered with, or sealed under another storage key"
            ) from None

    def rewrap(self, sealed: bytes) -> bytes | None:
        """The same envelope with its data key wrapped under the current master key
        instead; None when it already is. The content is not read."""
        envelope = Envelope.parse(sealed)
        if envelope.key_id == self.current.key_id:
            return None
        data_key = self._unwrap(envelope)
        return replace(
            envelope,
            key_id=self.current.key_id,
            wrapped_key=aes_key_wrap(self.current.secret, data_key),
        ).to_bytes()

    def _unwrap(self, envelope: Envelope) -> bytes:
        secret = self._secrets.get(envelope.key_id)
        if secret is None:
            raise DecryptionFailed(
                f"sealed under master key {envelope.key_id!r},"
                " which DOCUMENT_ENCRYPTION_KEYS does not hold"
            )
        try:
            return aes_key_unwrap(secret, envelope.wrapped_key)
        except InvalidUnwrap:
            raise DecryptionFailed(
                f"the data key does not unwrap under master key {envelope.key_id!r}: tampered with"
            ) from None
