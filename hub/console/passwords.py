"""Operator passwords, hashed with scrypt (``hashlib.scrypt``, the standard library's binding of
OpenSSL's implementation).

Why scrypt and no extra dependency: it is memory-hard (a GPU farm gains little), it ships with
every Python the hub runs on, and its parameters travel with each hash, so they can be raised
later without invalidating what is stored: ``needs_rehash`` tells when a login should store a
stronger hash. Why not SHA-256 as for API keys: a password is chosen by a person and can be
guessed; a key is 256 random bits and cannot.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# OWASP's scrypt minimum is N=2^17 with r=8 (128 MiB); 2^15 (32 MiB, ≈0.1 s here) keeps a
# 2-core hub answering logins while a worker runs, and is still far beyond a fast hash.
N, R, P = 2 ** 15, 8, 1
DKLEN = 32
PREFIX = "scrypt"
MIN_LENGTH = 12


class WeakPassword(ValueError):
    pass


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=DKLEN,
                          maxmem=256 * r * n + 1024 * 1024)


def hash_password(password: str) -> str:
    """``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (base64 without padding)."""
    check_strength(password)
    salt = secrets.token_bytes(16)
    digest = _derive(password, salt, N, R, P)
    return "$".join((PREFIX, str(N), str(R), str(P), _b64(salt), _b64(digest)))


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches ``stored``. Without a stored hash the same work is done on a
    dummy, so an unknown operator name takes as long to refuse as a wrong password."""
    try:
        prefix, n, r, p, salt, digest = (stored or _DUMMY).split("$")
        if prefix != PREFIX:
            return False
        actual = _derive(password, _unb64(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return stored is not None and hmac.compare_digest(actual, _unb64(digest))


def needs_rehash(stored: str) -> bool:
    parts = stored.split("$")
    return len(parts) != 6 or parts[0] != PREFIX or (int(parts[1]), int(parts[2]), int(parts[3])) < (N, R, P)


def check_strength(password: str) -> None:
    """Length is what makes a password hard to guess; composition rules mostly make it hard to
    remember. At least MIN_LENGTH characters, not all the same one."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if len(set(password)) < 4:
        raise WeakPassword("a password needs more than a few different characters")


def generate() -> str:
    """A one-time password to hand over: 20 characters from an alphabet without look-alikes."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(20))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


_DUMMY = "$".join((PREFIX, str(N), str(R), str(P), _b64(b"\0" * 16), _b64(b"\0" * DKLEN)))
