"""Schema creation and migration with Alembic.

``hub db upgrade`` (and every hub process at start) brings the database to the newest
revision in ``hub/migrations/versions``. A test checks that the models and the migrations agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config

if TYPE_CHECKING:
    from hub.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = db.engine
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    import hub.models  # noqa: F401 - register every table on Base.metadata

    with db.engine.begin() as conn:
        cfg = alembic_config(db)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def make_revision(message: str) -> None:
    """Developer tool: write a new revision from the difference between the models and the
    newest revision (``python -m hub.migrate "add foo table"``), computed on a scratch SQLite."""
    import tempfile

    from hub.db import Database

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/scratch.sqlite3")
        upgrade(db)
        with db.engine.begin() as conn:
            cfg = alembic_config(db)
            cfg.attributes["connection"] = conn
            command.revision(cfg, message=message, autogenerate=True)
        db.dispose()


if __name__ == "__main__":
    import sys

    make_revision(" ".join(sys.argv[1:]) or "schema change")
