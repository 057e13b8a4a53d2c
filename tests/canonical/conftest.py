"""Fixtures of the canonical tests: the real PostgreSQL with empty crosswalk/partner tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from hub.business_exceptions import BusinessException
from hub.canonical.xref import XrefConversion, XrefItem, XrefItemIdentifier, XrefLocation, XrefUom
from hub.db import Database
from hub.partners import PartnerIdentifierRecord, PartnerRecord
from hub.store import StoredDocument

ROOT = Path(__file__).resolve().parents[2]
TABLES = (XrefItem, XrefItemIdentifier, XrefUom, XrefConversion, XrefLocation, BusinessException, PartnerRecord,
          PartnerIdentifierRecord, StoredDocument)


@pytest.fixture
def db(pg_db: Database) -> Iterator[Database]:
    """pg_db with the tables these tests fill emptied first (the schema is private to the run)."""
    with pg_db.session() as session:
        for table in TABLES:
            session.execute(delete(table))
    yield pg_db
