"""Fixtures of the flow tests: an SQLite store of the test's own with the partner registry."""

from __future__ import annotations

import pytest

from hub.partners import PartnerRegistry
from tests.conftest import ROOT


@pytest.fixture
def flow_db(sqlite_db):
    import hub.registry

    hub.registry.load_plugins()  # the steps of transforms/ and the engines
    PartnerRegistry(sqlite_db).load_file(ROOT / "routes" / "partners.yaml")
    return sqlite_db
