"""The first operator: on a hub without any, ``hub run`` and ``hub api`` create ``admin`` with a
generated password, written to ``HUB_DATA_DIR/console-admin-password`` (readable by the hub's
user only) and shown once on ``hub run``'s banner.

Why not a default password: a default is the same on every install and ends up in a scanner's
list; a generated one is known only to whoever can read the hub's data folder, who can read
the database anyway. ``hub operators passwd admin`` replaces it and removes the file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import func, select

from hub.console.models import Operator
from hub.console.operators import add_operator

log = logging.getLogger(__name__)
FIRST = "admin"
FILE_NAME = "console-admin-password"


def password_file(hub) -> Path:
    return hub.settings.data_dir / FILE_NAME


def ensure_first_admin(hub) -> str | None:
    """Create ``admin`` when no operator exists; returns its password then, else None."""
    with hub.db.read() as session:
        if session.scalar(select(func.count()).select_from(Operator)):
            return None
    try:
        password = add_operator(hub.db, FIRST, "admin", by="hub (first start)")
    except ValueError:  # another process created it a moment ago
        return None
    path = password_file(hub)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(password + "\n")
    log.warning("console: created the first operator %r; its password is in %s", FIRST, path)
    return password


def forget_first_password(hub, name: str) -> None:
    if name == FIRST:
        password_file(hub).unlink(missing_ok=True)
