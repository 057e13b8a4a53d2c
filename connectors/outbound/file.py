"""File endpoint: write to a temporary name in the target folder, fsync, then rename, so a
reader of the folder never sees a partial file. Names are built from a template whose
values are sanitised: nothing from a document can climb out of the folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

from hub.delivery.sending import DeliveryResult, Payload

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
EXTENSIONS = {"application/json": "json", "application/xml": "xml", "text/plain; charset=utf-8": "txt",
              "application/edi-x12": "x12", "application/edifact": "edi"}


def safe_part(value: object) -> str:
    """A file-name fragment: letters, digits, '.', '_' and '-' only, no '..', never empty."""
    cleaned = re.sub(r"\.{2,}", ".", _UNSAFE.sub("_", str(value))).strip("._")
    return cleaned[:120] or "_"


def target_name(template: str, payload: Payload) -> str:
    """The file name for a delivery: every placeholder value is reduced to a safe part, so a
    document key such as ``../../etc/x`` stays one name inside the target folder."""
    values = {
        "message_id": payload.message_id, "seq": payload.seq, "route": payload.route,
        "document_type": payload.document_type or "document", "document_key": payload.document_key or "none",
        "delivery_id": payload.delivery_id, "ext": extension(payload.content_type),
    }
    return template.format(**{k: safe_part(v) for k, v in values.items()})


def extension(content_type: str) -> str:
    if content_type in EXTENSIONS:
        return EXTENSIONS[content_type]
    base = content_type.split(";", 1)[0].strip()
    return {"text/plain": "txt", "text/xml": "xml", "text/csv": "csv"}.get(base, EXTENSIONS.get(base, "bin"))


class FileSender:
    def __init__(self, name: str, config) -> None:
        self.name = name
        self.config = config
        self.folder = Path(config.path)

    def filename(self, payload: Payload) -> str:
        return target_name(self.config.filename, payload)

    def send(self, payload: Payload) -> DeliveryResult:
        target = self.folder / self.filename(payload)
        tmp = self.folder / f".{target.name}.{payload.delivery_id}.tmp"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(payload.body)
                fh.flush()
                os.fsync(fh.fileno())
            # Same delivery written again (retry after a crash, replay) lands on the same name.
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            # A folder that cannot be written (unmounted share, full disk, permissions) fails every
            # document alike: the endpoint is unavailable, not this document wrong.
            return DeliveryResult("unavailable", error=f"cannot write {target}: {exc.strerror or exc}")
        return DeliveryResult("delivered", response=f"written {target}")
