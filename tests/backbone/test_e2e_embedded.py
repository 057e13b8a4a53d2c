"""The same flow on the embedded default: SQLite and the hubdb:// transport, no servers,
everything in one `hub run` process fed by the file drop."""

from __future__ import annotations

import json
import shutil

from tests.backbone.conftest import HubEnv, wait_for
from tests.conftest import ROOT

EXAMPLE = ROOT / "examples/cycle-counts/counts-2026-11-20.csv"


def test_csv_flow_on_the_embedded_default(embedded_hub: HubEnv) -> None:
    assert embedded_hub.hub.settings.is_embedded_broker
    assert embedded_hub.hub.settings.resolved_database_url.startswith("sqlite")
    embedded_hub.spawn("run", log="run")
    inbox = embedded_hub.hub.settings.inbox_dir / "cycle-counts"
    wait_for(inbox.is_dir, 30, what="the inbox folder")
    shutil.copy(EXAMPLE, inbox / "counts.csv")
    wait_for(lambda: len(embedded_hub.stub.applied) == 3, 60, what="three documents at the ERP stub")
    files = wait_for(lambda: len(f := sorted(embedded_hub.warehouse.glob("*.json"))) == 3 and f, 30,
                     what="three files in the warehouse folder")
    assert json.loads(files[0].read_text())["document_type"] == "inventory_adjustment"
    # The file was archived, and `hub trace` shows every stage.
    archived = list((inbox / "archive").rglob("*counts.csv"))
    assert len(archived) == 1 and not list(inbox.glob("*.csv"))
    message_id = archived[0].name.split("__")[0]
    trace = embedded_hub.hub_cli("trace", message_id).stdout
    for stage in ("received", "published", "routed", "transformed", "delivered"):
        assert f" {stage} " in trace, trace
    assert trace.count(" delivered ") >= 6


def test_bad_csv_on_the_embedded_default_is_parked_and_replayable(embedded_hub: HubEnv) -> None:
    embedded_hub.spawn("run", log="run")
    raw = (ROOT / "examples/cycle-counts/bad-counts.csv").read_bytes()
    message_id = embedded_hub.push(raw, filename="bad-counts.csv")
    (dl,) = wait_for(lambda: embedded_hub.dead_letters(message_id), 30, what="a dead letter")
    assert "line 3, column 'Counted Qty'" in dl.error
    listing = embedded_hub.hub_cli("dlq", "list").stdout
    assert dl.id in listing and "bad_csv" in listing
    # Replaying the unchanged file fails the same way again: a new dead letter, nothing lost.
    embedded_hub.hub_cli("replay", dl.id, "--reason", "check it fails the same way")
    wait_for(lambda: len(embedded_hub.dead_letters(message_id)) == 2, 30, what="the second dead letter")
