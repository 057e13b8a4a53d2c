"""Text a partner controls — a file name, a document number, an envelope sender, an endpoint's
answer — reaches an operator's terminal in tables and log lines. Written with a CR/LF, an escape
sequence and a right-to-left override, it must show escaped everywhere: the review queue, the
dead letters, a document's trail, a message's trace, the security events, the partners, and the
file drop's log lines. Run through the real commands on PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.cli import security_app
from connectors.inbound.filedrop import DropChannel, FileDrop
from connectors.security import record_event
from hub.app import Hub
from hub.business_exceptions import BusinessException
from hub.cli import app
from hub.documents import ref_rows
from hub.ids import new_id
from hub.ingest import Inbound, Ingest
from hub.logsafe import PrintableFormatter
from hub.partners import PartnerConfig, PartnerRegistry
from hub.partners_cli import partners_app
from hub.store import DeadLetter, DocumentRef, utcnow

pytestmark = pytest.mark.postgres

HOSTILE = "PO-1\r\n2026-11-20 00:00:00  forged line\x1b[2J\u202egpj.exe"
ESCAPED = "PO-1\\r\\n2026-11-20 00:00:00  forged line\\x1b[2J\\u202egpj.exe"


def assert_escaped(output: str) -> None:
    assert "\r" not in output and "\x1b" not in output and "\u202e" not in output, repr(output)
    assert all("forged line" not in line or line.find("forged line") > line.find("\\r\\n") >= 0
               for line in output.splitlines()), output  # no line starts where the partner's text says
    assert ESCAPED in output or ESCAPED.replace("\\r\\n", "_") in output or "forged line\\x1b" in output


@pytest.fixture
def cli_env(sec_hub: Hub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Hub]:
    """The commands read their configuration from HUB_* variables: point them at the test's store."""
    from hub.config import get_settings

    for key, value in {"HUB_DATABASE_URL": sec_hub.settings.resolved_database_url, "HUB_DATA_DIR": str(tmp_path),
                       "HUB_NAMESPACE": sec_hub.settings.namespace}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield sec_hub
    get_settings.cache_clear()


def hostile_message(hub: Hub) -> str:
    return Ingest(hub).accept(Inbound(raw=b"x", format="csv", doctype="invoice", sender=HOSTILE, channel="api",
                                      filename=HOSTILE)).message_id


def run(command, *args: str) -> str:
    result = CliRunner().invoke(command, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_review_queue_and_the_dead_letters(cli_env: Hub) -> None:
    message_id = hostile_message(cli_env)
    with cli_env.db.session() as s:
        s.add(BusinessException(kind="unknown_item", severity="BLOCK", document_type="invoice", document_key=HOSTILE,
                                message_id=message_id, message=f"item {HOSTILE} is not in the crosswalk",
                                partner_id="P-0042", detail={}))
        s.add(DeadLetter(id=new_id(), message_id=message_id, route="supplier-x12", queue="hub.dlq.route.supplier-x12",
                         reason="bad_csv", error=f"line 2: {HOSTILE}", task_name="t", task_args=[]))
    assert_escaped(run(app, "exceptions", "list", "--message", message_id))
    assert_escaped(run(app, "dlq", "list"))


def test_a_documents_trail_and_a_trace(cli_env: Hub) -> None:
    message_id = hostile_message(cli_env)
    body = {"document_type": "invoice", "invoice_number": HOSTILE[:200], "po_number": "PO-TRAIL-1"}
    with cli_env.db.session() as s:
        for row in ref_rows(message_id, "supplier-x12", body, "emitted", utcnow()):
            s.add(DocumentRef(**row))
    assert_escaped(run(app, "documents", "trail", "PO-TRAIL-1"))
    assert_escaped(run(app, "trace", message_id))


def test_security_events_and_partners(cli_env: Hub) -> None:
    record_event(cli_env, "sender_not_owned", f"sender {HOSTILE} refused", claimed=HOSTILE, remote_addr="192.0.2.9")
    assert_escaped(run(security_app, "events", "--kind", "sender_not_owned", "--limit", "1"))
    PartnerRegistry(cli_env.db).load([PartnerConfig.model_validate(
        {"id": "P-0990", "name": HOSTILE, "roles": ["SUPPLIER"]})])
    assert_escaped(run(partners_app, "list", "--database-url", cli_env.settings.resolved_database_url))


def test_the_file_drops_log_lines(sec_hub: Hub, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    ch = DropChannel("hostile-names", tmp_path / "in", stable_seconds=0, partner="P-0042")
    ch.folder.mkdir()
    (ch.folder / f"{HOSTILE}.csv").write_bytes(b"a,b\n")  # refused: a supplier's channel takes no CSV
    (ch.folder / f"ok-{HOSTILE}.x12").write_bytes(
        b"ISA*00*          *00*          *ZZ*ACMEMED        *ZZ*HOSPITAL       *261120*1200*^*00401*000009901*0*P*>~"
        b"GS*PR*ACMEMED*HOSPITAL*20261120*1200*1*X*004010~ST*855*0001~BAK*00*AD*PO-1*20261120~SE*3*0001~GE*1*1~"
        b"IEA*1*000009901~")
    FileDrop(sec_hub, [ch]).scan()
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("connectors")]
    assert len(lines) >= 3  # refused, moved to error/, stored
    assert_escaped("\n".join(lines))
    # And whatever a line still holds, the hub's log formatter shows it on one line.
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "file %s", (HOSTILE,), None)
    assert_escaped(PrintableFormatter("%(message)s").format(record))
