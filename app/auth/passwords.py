"""Passwords: argon2id hashes, and the policy every new password meets.

The policy follows NIST SP 800-63B (memorized secrets): at least MIN_LENGTH characters,
any characters at all (spaces and emoji too), no composition rules (no required digits,
capitals or symbols), and a password that is easy to guess is refused. Characters are
counted as Unicode code points after NFKC normalisation, the form that is hashed, so a
password typed on another keyboard or system, composed differently, still matches.

"Easy to guess" is zxcvbn's estimate (the maintained Python port of Dropbox's estimator,
a dependency). Its lists ship with the package: the 30,000 most common passwords of
leaked password corpora, English words (Wikipedia, television and film), common first
names and surnames. It finds them in a password as they are, reversed, with common
substitutions (`p@ssw0rd`) and joined with digits, dates, keyboard patterns, repeats
and sequences, together with words that belong to the person (their email and name),
and scores the number of guesses the password would take from 0 to 4. Below
SCORE_NEEDED (3: 10^8 guesses or more, "safely unguessable", moderate protection
against an offline attack on a slow hash) the password is refused with zxcvbn's reason:
a listed password or a slight variation of one, a lone word, a repeat, a sequence. A
password containing the name part of the person's own email is refused outright.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from app.domain.errors import Invalid

MIN_LENGTH = 12
# Long enough for any passphrase; short enough that hashing or checking one is cheap.
MAX_LENGTH = 1024
# zxcvbn's score for 10^8 guesses or more.
SCORE_NEEDED = 3
# zxcvbn estimates this many characters at most (its matching grows quickly with
# length); a password whose first 72 characters are hard to guess is hard to guess.
_ESTIMATED_LENGTH = 72
# Shorter email names (`jo@`) are parts of too many good passwords to refuse.
_EMAIL_NAME_MIN = 4
# Words that belong to the service rather than the person.
_SERVICE_WORDS = ("msc",)

_hasher = PasswordHasher()  # argon2id with the library's current recommended costs


def normalized(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    return _hasher.hash(normalized(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (unknown user, no password yet) a dummy hash is
    verified anyway, so the answer takes as long whether or not the account exists.
    A hash made before passwords were normalised is of the password as typed: that form
    is tried too, when it differs."""
    candidates = dict.fromkeys((normalized(password), password))
    return any(_verify(password_hash, candidate) for candidate in candidates)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def password_stamp(password_hash: str | None) -> str:
    """A short fingerprint of a stored hash, which changes whenever the password does:
    an MFA token carries the one its sign-in began with."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@cache
def _dummy_hash() -> str:
    return _hasher.hash("not-a-real-password")


def _letters_and_digits(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def weakness(password: str, *, email: str | None = None, name: str | None = None) -> str | None:
    """Why `password` may not be chosen by the person with this `email` and `name`, as
    a sentence to show them; None when it may."""
    text = normalized(password)
    if len(text) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters (this one has {len(text)})"
    if len(text) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters (this one has {len(text)})"
    email_name = _letters_and_digits((email or "").rpartition("@")[0])
    if len(email_name) >= _EMAIL_NAME_MIN and email_name in _letters_and_digits(text):
        return "a password must not contain your email address"
    personal = [word for word in _personal(email, name) if word]
    estimate = zxcvbn(text[:_ESTIMATED_LENGTH], user_inputs=personal)
    if estimate["score"] >= SCORE_NEEDED:
        return None
    feedback = estimate["feedback"]
    reason = feedback["warning"] or next(iter(feedback["suggestions"]), "") or "add a word or two"
    return f"this password is too easy to guess: {reason[0].lower()}{reason[1:].rstrip('.')}"


def _personal(email: str | None, name: str | None) -> Iterable[str]:
    """What a person's password must not be built on, for zxcvbn: their email, its name
    part whole and in pieces, their name's words, and the service's own name."""
    if email:
        email_name = email.rpartition("@")[0]
        yield from (email, email_name, _letters_and_digits(email_name))
        yield from re.split(r"[\W_]+", email_name)
    if name:
        yield from re.split(r"[\W_]+", name)
    yield from _SERVICE_WORDS


def require_acceptable(
    password: str, *, email: str | None, name: str | None, field: str = "password"
) -> None:
    """Refuse (Invalid, naming `field`) a password the policy refuses for this person:
    what every way of setting a password checks."""
    problem = weakness(password, email=email, name=name)
    if problem is not None:
        raise Invalid(problem, field=field)
