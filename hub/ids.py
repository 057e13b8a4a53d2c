"""Identifiers: time-ordered UUIDs (RFC 9562 version 7) so ids sort by creation time."""

from __future__ import annotations

import os
import time
import uuid

_NAMESPACE = uuid.UUID("6f1c2d0e-2b7a-4f43-9a39-5b0c6a0f6e21")


def new_id() -> str:
    """A UUIDv7 string: 48-bit Unix milliseconds, then random bits."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | rand & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def stable_id(*parts: object) -> str:
    """A deterministic id (UUIDv5) for the same parts: used for delivery ids and idempotency keys."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(str(p) for p in parts)))
