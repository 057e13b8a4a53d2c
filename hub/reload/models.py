"""The tables of route reloads (hub.reload): every route set put in force, and which running
process runs which."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base
from hub.store.models import UTCDateTime, utcnow


class RouteGeneration(Base):
    """One route set put in force: the files' texts as validated (so every process runs exactly
    what was checked, not what the folder holds when it looks), who, when, how, and what changed
    against the generation before it. Numbered 1, 2, 3 …: the number is the primary key, so two
    processes recording at once cannot both take the same one."""

    __tablename__ = "route_generations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 over the files' names and texts
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by: Mapped[str] = mapped_column(String(128))
    via: Mapped[str] = mapped_column(String(32))  # cli, watch, start
    directory: Mapped[str] = mapped_column(Text)
    # [[file name, text], ...] in reading order; emptied for generations far behind (hub.reload.generations.KEEP)
    files: Mapped[list[list[str]] | None] = mapped_column(JSON)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"routes": {"added": [...], ...}, "files": [...]}
    # route → when its current binding took effect, for routes added (or rebound) after the first
    # generation: messages received before that were never copied to it (Topology.routes_for)
    bound_since: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON)  # route → key → ISO time
    summary: Mapped[str] = mapped_column(Text)


class RouteFollower(Base):
    """A running hub process and the generation it runs, written when it changes and every
    ``HEARTBEAT`` seconds (``hub routes status``, ``hub routes reload --wait``)."""

    __tablename__ = "route_followers"

    process: Mapped[str] = mapped_column(String(200), primary_key=True)  # kind@host:pid
    kind: Mapped[str] = mapped_column(String(32))  # worker, run, filedrop, api, sftp
    generation: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    error: Mapped[str | None] = mapped_column(Text)  # why it could not take the newest generation
