"""The documents' envelope encryption, on its own: what a sealed file holds, and that
any change to it, or its move to another storage key, keeps it shut."""

from __future__ import annotations

import os

import pytest

from app.config import MasterKey
from app.integrations.document_crypto import (
    MAGIC,
    VERSION,
    DecryptionFailed,
    Envelope,
    Keyring,
    is_sealed,
)

FIRST = MasterKey("first", os.urandom(32))
SECOND = MasterKey("second", os.urandom(32))
KEY = "0123456789abcdef0123456789abcdef"
OTHER_KEY = "fedcba9876543210fedcba9876543210"
CONTENT = b"%PDF-1.7\nSocial Security number 078-05-1120\n%%EOF\n"


def test_a_sealed_file_says_how_to_open_it_and_hides_its_content() -> None:
    sealed = Keyring([FIRST]).seal(CONTENT, KEY)
    assert is_sealed(sealed) and not is_sealed(CONTENT)
    assert sealed.startswith(MAGIC + bytes((VERSION, len("first"))) + b"first")
    assert b"078-05-1120" not in sealed and b"%PDF" not in sealed
    envelope = Envelope.parse(sealed)
    assert envelope.key_id == "first"
    assert (len(envelope.wrapped_key), len(envelope.nonce)) == (40, 12)
    assert len(envelope.ciphertext) == len(CONTENT) + 16  # the GCM tag
    assert Envelope.parse(envelope.to_bytes()) == envelope

    assert Keyring([FIRST]).open(sealed, KEY) == CONTENT
    # Each file has its own data key and nonce: the same content never seals alike.
    again = Envelope.parse(Keyring([FIRST]).seal(CONTENT, KEY))
    assert again.wrapped_key != envelope.wrapped_key and again.nonce != envelope.nonce
    assert again.ciphertext != envelope.ciphertext


def test_a_file_moved_to_another_storage_key_does_not_open() -> None:
    sealed = Keyring([FIRST]).seal(CONTENT, KEY)
    with pytest.raises(DecryptionFailed, match="another storage key"):
        Keyring([FIRST]).open(sealed, OTHER_KEY)


@pytest.mark.parametrize(
    "region",
    ["version", "key id", "wrapped key", "nonce", "ciphertext", "tag"],
)
def test_a_change_to_any_part_keeps_it_shut(region: str) -> None:
    keyring = Keyring([FIRST, MasterKey("firsu", os.urandom(32))])
    sealed = bytearray(keyring.seal(CONTENT, KEY))
    header = len(MAGIC) + 2 + len("first")
    at = {
        "version": len(MAGIC),
        # "first" becomes "firsu": another key the keyring holds, which cannot unwrap it.
        "key id": header - 1,
        "wrapped key": header + 5,
        "nonce": header + 40 + 3,
        "ciphertext": header + 40 + 12 + 7,
        "tag": len(sealed) - 1,
    }[region]
    sealed[at] ^= 0x01
    with pytest.raises(DecryptionFailed):
        keyring.open(bytes(sealed), KEY)


def test_cut_short_or_unknown_files_do_not_open() -> None:
    sealed = Keyring([FIRST]).seal(CONTENT, KEY)
    header = len(MAGIC) + 2 + len("first") + 40 + 12
    for cut in (sealed[: len(MAGIC) + 1], sealed[: header + 15]):
        with pytest.raises(DecryptionFailed, match="cut short"):
            Keyring([FIRST]).open(cut, KEY)
    with pytest.raises(DecryptionFailed, match="format 2"):
        Keyring([FIRST]).open(MAGIC + bytes((2,)) + sealed[len(MAGIC) + 1 :], KEY)
    with pytest.raises(DecryptionFailed, match="not an encrypted file"):
        Keyring([FIRST]).open(CONTENT, KEY)
    # Sealed under a master key this keyring does not hold: the message names its id.
    with pytest.raises(DecryptionFailed, match="'first', which DOCUMENT_ENCRYPTION_KEYS"):
        Keyring([SECOND]).open(sealed, KEY)


def test_rewrap_moves_the_data_key_under_the_current_master_key_only() -> None:
    old = Keyring([FIRST]).seal(CONTENT, KEY)
    rotated = Keyring([SECOND, FIRST])
    assert rotated.open(old, KEY) == CONTENT  # the old key still opens what it sealed

    rewrapped = rotated.rewrap(old)
    assert rewrapped is not None
    before, after = Envelope.parse(old), Envelope.parse(rewrapped)
    assert after.key_id == "second" and after.wrapped_key != before.wrapped_key
    # The content is untouched: only the header changed.
    assert (after.nonce, after.ciphertext) == (before.nonce, before.ciphertext)
    assert Keyring([SECOND]).open(rewrapped, KEY) == CONTENT
    with pytest.raises(DecryptionFailed):
        Keyring([FIRST]).open(rewrapped, KEY)
    # Still bound to its storage key.
    with pytest.raises(DecryptionFailed):
        Keyring([SECOND]).open(rewrapped, OTHER_KEY)

    assert rotated.rewrap(rewrapped) is None  # already under the current key
    with pytest.raises(DecryptionFailed):
        Keyring([SECOND]).rewrap(old)  # the key it needs is gone


def test_a_keyring_needs_a_key() -> None:
    with pytest.raises(ValueError):
        Keyring([])
