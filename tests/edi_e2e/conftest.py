"""The backbone's end-to-end fixtures (tests/backbone/conftest.py) with the supplier EDI routes'
endpoints pointed at the test's ERP stub and folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.stubs import ErpStub
from tests.backbone.conftest import HubEnv, _delete_namespace, _teardown, erp_stub, make_env  # noqa: F401
from tests.conftest import AMQP_URL, fresh_schema


@pytest.fixture
def edi_hub(tmp_path: Path, namespace: str, erp_stub: ErpStub,  # noqa: F811
            monkeypatch: pytest.MonkeyPatch) -> Iterator[HubEnv]:
    """A hub on the real RabbitMQ and PostgreSQL whose routes folder is the project's, in a
    schema of its own: these tests drop the same sample files, which the file drop would take
    for one message, and follow documents by number across the whole database."""
    monkeypatch.setenv("ERP_SUPPLIER_DOCUMENTS_URL", f"{erp_stub.url}/supplier/documents")
    monkeypatch.setenv("SUPPLIER_OUTBOX_DIR", str(tmp_path / "suppliers"))
    with fresh_schema() as database_url:
        env = make_env(tmp_path, database_url=database_url, broker_url=AMQP_URL, namespace=namespace, stub=erp_stub)
        yield env
        _teardown(env)
        _delete_namespace(env)
