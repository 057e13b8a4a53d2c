"""File endpoint: write to a temporary name in the target folder, fsync, then publish it under its
name, so a reader of the folder never sees a partial file. Names are built from a template whose
values are sanitised: nothing from a document can climb out of the folder.

A file is never overwritten. Sanitising maps many values to one name (``COLL/1``, ``COLL:1``,
``COLL 1`` and ``COLL_1`` all become ``COLL_1``), so the name is published exclusively (a hard
link, which fails when the name exists); when it is taken, the delivery takes the name with a
short hash of its idempotency key added (``purchase_order-COLL_1-3f9a0c2b71de.xml``): stable for
that delivery (a retry lands on the same name) and different for every other. A file already
there with exactly the delivery's bytes is the delivery's own earlier attempt (or an identical
document) and counts as delivered. A value is never cut silently either: one longer than the
limit keeps its start and a hash of the whole. The delivery's response names the file written.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from connectors.outbound import batching
from hub.delivery.sending import DeliveryResult, Payload
from hub.routes.model import BatchPolicy

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
EXTENSIONS = {"application/json": "json", "application/xml": "xml", "text/plain; charset=utf-8": "txt",
              "application/edi-x12": "x12", "application/edifact": "edi"}
HASH_LENGTH = 12
MAX_PART = 120  # one template value
MAX_NAME = 200  # a whole name: room for the clash suffix and the temporary name's decoration (255 bytes)
# Where a file system has no hard links, the name is checked, then renamed into (not atomic).
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.ENOSYS, errno.EMLINK}


def short_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_LENGTH]


def _shortened(text: str, whole: str, limit: int) -> str:
    """``text`` as is when it fits, else its start and a hash of ``whole``: distinct values stay distinct."""
    if len(text) <= limit:
        return text
    return f"{text[:limit - HASH_LENGTH - 1]}-{short_hash(whole)}"


def safe_part(value: object) -> str:
    """A file-name fragment: letters, digits, '.', '_' and '-' only, no '..', never empty, at most
    ``MAX_PART`` characters (a longer value keeps its start and a hash of the whole value)."""
    text = str(value)
    cleaned = re.sub(r"\.{2,}", ".", _UNSAFE.sub("_", text)).strip("._") or "_"
    return _shortened(cleaned, text, MAX_PART)


def target_name(template: str, payload: Payload) -> str:
    """The file name for a delivery: every placeholder value is reduced to a safe part, so a
    document key such as ``../../etc/x`` stays one name inside the target folder."""
    values = {
        "message_id": payload.message_id, "seq": payload.seq, "route": payload.route,
        "document_type": payload.document_type or "document", "document_key": payload.document_key or "none",
        "delivery_id": payload.delivery_id, "ext": extension(payload.content_type),
    }
    name = template.format(**{k: safe_part(v) for k, v in values.items()})
    if len(name) <= MAX_NAME:
        return name
    stem, dot, ext = _split(name)
    return _shortened(stem, name, MAX_NAME - len(dot + ext)) + dot + ext


def _split(name: str) -> tuple[str, str, str]:
    """(stem, ".", extension), or (name, "", "") when there is no extension."""
    stem, dot, ext = name.rpartition(".")
    return (stem, dot, ext) if stem and len(ext) <= 8 else (name, "", "")


def clash_name(name: str, key: str) -> str:
    """The name a delivery takes when its own is taken: a hash of its idempotency key added."""
    stem, dot, ext = _split(name)
    return f"{stem}-{short_hash(key)}{dot}{ext}"


def temporary_name(name: str, delivery_id: str) -> str:
    tmp = f".{name}.{delivery_id}.tmp"
    return tmp if len(tmp.encode()) <= 255 else f".{short_hash(name)}.{short_hash(delivery_id)}.tmp"


def extension(content_type: str) -> str:
    if content_type in EXTENSIONS:
        return EXTENSIONS[content_type]
    base = content_type.split(";", 1)[0].strip()
    return {"text/plain": "txt", "text/xml": "xml", "text/csv": "csv"}.get(base, EXTENSIONS.get(base, "bin"))


class NameTaken(Exception):
    """Both the name and the delivery's own clash name hold other bytes: nothing was written."""


@dataclass(frozen=True)
class Placed:
    name: str
    written: bool  # False: the file was already there with the same bytes


def place(name: str, key: str, create: Callable[[str], bool], holds_ours: Callable[[str], bool]) -> Placed:
    """Publish under ``name`` or, when it is taken by other bytes, under ``clash_name(name, key)``.
    ``create(candidate)`` publishes exclusively and says whether it did (False: the name is
    taken); ``holds_ours(candidate)`` says whether the file there has exactly our bytes."""
    for candidate in (name, clash_name(name, key)):
        if create(candidate):
            return Placed(candidate, True)
        if holds_ours(candidate):
            return Placed(candidate, False)
    raise NameTaken(f"{name} and {clash_name(name, key)} both hold other files")


def answer(placed: Placed, folder: str) -> DeliveryResult:
    """The delivery's result, naming the file first (the trace shows the start of it)."""
    if placed.written:
        return DeliveryResult("delivered", response=f"written {placed.name} in {folder}")
    return DeliveryResult("delivered", response=f"already there with the same bytes: {placed.name} in {folder}")


def name_taken(exc: NameTaken, where: str) -> DeliveryResult:
    # Not the endpoint's outage and not worth retrying: an operator must look at the folder.
    return DeliveryResult("reject", error=f"{where}: {exc}: nothing was overwritten")


class FileSender:
    def __init__(self, name: str, config) -> None:
        self.name = name
        self.config = config
        self.folder = Path(config.path)

    def filename(self, payload: Payload) -> str:
        return target_name(self.config.filename, payload)

    def send(self, payload: Payload) -> DeliveryResult:
        return self._write(self.filename(payload), payload.delivery_id, payload.idempotency_key, payload.body)

    def send_batch(self, payloads: list[Payload], policy: BatchPolicy, payload_format: str) -> list[DeliveryResult]:
        """One file holding many documents (connectors.outbound.batching); every document gets
        the file's outcome. The name comes from the batch's stable id, so the same batch written
        again finds its own bytes there and counts as delivered."""
        bid = batching.batch_id(payloads)
        types = {p.content_type for p in payloads}
        name = policy.filename.format(batch_id=safe_part(bid), count=len(payloads),
                                      document_type=safe_part(batching.common_type(payloads) or "documents"),
                                      ext=extension(types.pop()) if len(types) == 1 else "bin")
        whole = self._write(name, bid, bid, batching.body(policy, payload_format, payloads))
        return batching.outcomes(whole, None, payloads, lambda code, answer: whole)

    def _write(self, name: str, tmp_id: str, key: str, body: bytes) -> DeliveryResult:
        tmp = self.folder / temporary_name(name, tmp_id)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            placed = place(name, key, lambda n: self._link(tmp, n), lambda n: _same_bytes(self.folder / n, body))
        except NameTaken as exc:
            return name_taken(exc, str(self.folder))
        except OSError as exc:
            # A folder that cannot be written (unmounted share, full disk, permissions) fails every
            # document alike: the endpoint is unavailable, not this document wrong.
            return DeliveryResult("unavailable", error=f"cannot write {self.folder / name}: {exc.strerror or exc}")
        finally:
            tmp.unlink(missing_ok=True)
        return answer(placed, str(self.folder))

    def _link(self, tmp: Path, name: str) -> bool:
        """Publish ``tmp`` as ``name`` unless the name exists (a hard link is atomic and never
        replaces); False when it exists."""
        target = self.folder / name
        try:
            os.link(tmp, target)
            return True
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
        if target.exists():  # no hard links here (some network shares): check, then rename
            return False
        os.rename(tmp, target)
        return True


def _same_bytes(path: Path, body: bytes) -> bool:
    try:
        return path.stat().st_size == len(body) and path.read_bytes() == body
    except FileNotFoundError:
        return False
