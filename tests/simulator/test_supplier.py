"""``hub simulate supplier`` and ``hub simulate scenarios`` as an operator runs them: the
supplier takes what waits in the partner's order mailbox, answers each order in the partner's
inbound channel — one interchange per document, in the scenario's order — sets aside what it
cannot read, and says where everything went."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edi.common.control_numbers import PreviewNumbers
from edi.x12.profile import X12Profile
from edi.x12.writer import write_documents
from hub.cli import app
from hub.config import get_settings
from hub.partners import PartnerRegistry
from tests.conftest import ROOT
from tests.simulator.test_wire import PO


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_ROUTES_DIR", str(ROOT / "routes"))
    monkeypatch.setenv("SUPPLIER_OUTBOX_DIR", str(tmp_path / "suppliers"))
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    from hub.app import Hub

    hub = Hub()
    hub.setup()
    PartnerRegistry(hub.db).load_file(ROOT / "routes" / "partners.yaml")
    hub.db.dispose()
    yield tmp_path
    get_settings.cache_clear()


def test_the_supplier_answers_what_waits_in_its_mailbox(data_dir: Path) -> None:
    orders = data_dir / "suppliers" / "meridian" / "orders"
    orders.mkdir(parents=True)
    profile = X12Profile(sender_id="GENHOSP", receiver_id="MERIDIANSURG", gs_receiver_id="MERIDIANSURG")
    (orders / "850-4500090001.x12").write_bytes(write_documents([PO], profile, PreviewNumbers()).data)
    (orders / "850-garbage.x12").write_bytes(b"not an interchange")
    result = CliRunner().invoke(app, ["simulate", "supplier", "--partner", "P-0310", "--scenario", "duplicate-invoice",
                                      "--day", "0", "--once"])
    assert result.exit_code == 0, result.output
    answers = sorted((data_dir / "data" / "inbox" / "meridian-x12").glob("*.x12"), key=lambda p: p.name[-13:])
    assert [p.name for p in answers] == [f"MERIDIANSURG-{name}-00000000{n}.x12" for n, name in
                                        ((1, "997"), (2, "855"), (3, "856"), (4, "810"), (5, "810"))]
    assert b"BIG*" in answers[3].read_bytes() and answers[3].read_bytes().split(b"BIG*")[1][:30] == \
        answers[4].read_bytes().split(b"BIG*")[1][:30]  # the same invoice, twice
    assert (orders / "taken" / "850-4500090001.x12").exists()
    reason = (orders / "rejected" / "850-garbage.x12.reason").read_text()
    assert "850-garbage.x12: expected one purchase order" in reason
    assert "cannot read 850-garbage.x12" in result.output and "sent 855 for 4500090001" in result.output


def test_what_the_command_refuses(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    unknown = runner.invoke(app, ["simulate", "supplier", "--partner", "P-9999", "--once"])
    assert unknown.exit_code == 2 and "partner P-9999 is not in the partner registry" in unknown.output
    # Acme's orders go over SFTP and no channel takes its answers on this hub: said, nothing started.
    acme = runner.invoke(app, ["simulate", "supplier", "--partner", "P-0042", "--once"])
    assert acme.exit_code == 2 and "partner P-0042: no file-drop or sftp channel is bound to it" in acme.output
    # Nordmed's orders come over AS2: playing it takes its private key, named before anything listens.
    monkeypatch.delenv("HUB_SIMULATOR_AS2_KEY", raising=False)
    nordmed = runner.invoke(app, ["simulate", "supplier", "--partner", "P-0107", "--once"])
    assert nordmed.exit_code == 2 and "partner P-0107: set HUB_SIMULATOR_AS2_KEY" in nordmed.output
    scenario = runner.invoke(app, ["simulate", "supplier", "--partner", "P-0310", "--scenario", "nope", "--once"])
    assert scenario.exit_code == 2 and "unknown scenario 'nope'" in scenario.output
    listed = runner.invoke(app, ["simulate", "scenarios"])
    assert "short-ship               raises receipt_differs_from_asn, invoice_qty_exceeds_received" in listed.output


def test_a_fresh_data_dir_takes_the_registry_from_the_routes_folder(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing loaded the registry yet (no hub run on this data dir): the simulator creates the
    store's tables and loads routes/partners.yaml, as hub run does, instead of failing."""
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.setenv("HUB_ROUTES_DIR", str(ROOT / "routes"))
    monkeypatch.setenv("SUPPLIER_OUTBOX_DIR", str(tmp_path / "suppliers"))
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["simulate", "supplier", "--partner", "P-0310", "--day", "0", "--once"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "loaded the partner registry" in result.output and "P-0310 plays clean" in result.output
