"""EDIFACT route components on the real PostgreSQL: parse: edifact, split: transaction,
ack: auto (CONTRL, interchange log, duplicates), edifact_ack_log, edifact.* transforms; and the
``hub edi`` CLI on EDIFACT files."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from edi.cli import app
from edi.common.ack_results import AckResult
from edi.common.route_steps import AckConfig, AckStep
from edi.edifact.model import EdifactFile, ReadMessage
from edi.edifact.plugin import AckLogConfig, EdifactAckLogStep, EdifactParseConfig
from hub.business_exceptions import BusinessException
from hub.canonical import PriceCatalogEntry, ShipNotice
from hub.db import Database
from hub.exchange import Exchange
from hub.registry import PARSERS, SPLITTERS, TRANSFORMS, RouteEnv, StepError, load_plugins
from tests.conftest import corpus_files
from tests.edi_common.partners import trading_partner
from tests.edifact.test_mapping import HEALTHCARE_DESADV, gs1

load_plugins()
runner = CliRunner()
SUPPLIER_GLN = gs1("541073800000")  # the UNB sender of HEALTHCARE_DESADV


def exchange(body: object) -> Exchange:
    return Exchange(message_id=f"m-{secrets.token_hex(4)}", body=body, format="edifact", doctype="DESADV",
                    sender="SUPPLIER")


def unique_desadv(sender_prefix: str | None = None, **replace: bytes) -> bytes:
    """The healthcare DESADV from a sender of its own (the interchange log is shared): the UNB
    sender is ``sender_prefix`` followed by the sender id of the sample."""
    prefix = sender_prefix or f"S{secrets.token_hex(4)}X"
    data = HEALTHCARE_DESADV.replace(b"UNB+UNOC:3+", b"UNB+UNOC:3+" + prefix.encode())
    for old, new in replace.items():
        data = data.replace(old.encode(), new)
    return data


def parse(raw: bytes, ex: Exchange | None = None, **config) -> EdifactFile:
    return PARSERS["edifact"].fn(raw, EdifactParseConfig(**config), ex or exchange(raw))


def test_parser_gives_the_file_and_warnings() -> None:
    ex = exchange(b"")
    file = parse(b"\xef\xbb\xbf" + unique_desadv(), ex)
    assert isinstance(file, EdifactFile) and len(list(file.messages())) == 1
    assert ex.warnings == ["warning: segment 1: UTF-8 byte-order mark before the first segment ignored"]
    assert ex.headers["edifact_interchanges"][0]["interchange_control_number"] == "77"


def test_parser_refuses_envelope_errors_with_their_location() -> None:
    bad = unique_desadv().replace(b"UNT+31+1", b"UNT+30+1")
    with pytest.raises(StepError) as info:
        parse(bad)
    assert info.value.location == "segment 33 (UNT), element 1"
    assert info.value.reason == "UNT control count is 30 but the number of segments from UNH to UNT is 31"
    kept = parse(bad, envelope_errors="keep")
    assert kept.errors[0].code == "control_count"
    with pytest.raises(StepError, match="no UNB interchange header"):
        parse(b"hello")


def test_split_and_transforms_keep_the_envelope() -> None:
    ex = exchange(b"")
    (part,) = SPLITTERS["transaction"].fn(parse(unique_desadv()), ex)
    assert isinstance(part, ReadMessage) and part.type == "DESADV"
    asn = TRANSFORMS["edifact.desadv_to_ship_notice"].fn(part, ex)
    assert isinstance(asn, ShipNotice) and asn.asn_number == "ASN-9001" and asn.lines[0].lots[0].lot_number == "LOT2024A"
    assert ex.headers["envelope"]["message_type"] == "DESADV"
    assert isinstance(TRANSFORMS["edifact.to_canonical"].fn(part, ex), ShipNotice)
    with pytest.raises(StepError, match="maps INVOIC messages, got DESADV"):
        TRANSFORMS["edifact.invoic_to_invoice"].fn(part, ex)


def test_pricat_transform_gives_a_list() -> None:
    paths = [p for p in corpus_files("edifact") if p.name == "pricat_bots_2.edi"]
    if not paths:
        pytest.skip("corpus absent")
    ex = exchange(b"")
    (part,) = SPLITTERS["transaction"].fn(parse(paths[0].read_bytes()), ex)
    entries = TRANSFORMS["edifact.pricat_to_price_catalog"].fn(part, ex)
    assert len(entries) == 3 and all(isinstance(e, PriceCatalogEntry) for e in entries)


def test_mapping_errors_in_a_transform_are_located() -> None:
    ex = exchange(b"")
    (part,) = SPLITTERS["transaction"].fn(parse(unique_desadv(**{"QTY+12:2'": b"QTY+21:2'"})), ex)
    with pytest.raises(StepError) as info:
        TRANSFORMS["edifact.to_canonical"].fn(part, ex)
    assert info.value.location == "segment 28 (LIN)" and "no despatched quantity" in info.value.reason


def test_rejected_messages_are_not_split_out() -> None:
    ex = exchange(b"")
    file = parse(unique_desadv().replace(b"UNT+31+1", b"UNT+30+1"), ex, envelope_errors="keep")
    assert SPLITTERS["transaction"].fn(file, ex) == []
    assert ex.exceptions == [{"kind": "syntax_error", "message_ref": "DESADV 1", "location": "segment 33 (UNT), element 1",
                              "message": "UNT control count is 30 but the number of segments from UNH to UNT is 31"}]


@pytest.mark.postgres
def test_ack_step_sends_contrl_then_refuses_the_duplicate(pg_db: Database) -> None:
    prefix = f"S{secrets.token_hex(4)}X"
    raw = unique_desadv(prefix, **{"+240301:0800+77'": b"+240301:0800+77++++1'"})  # UNB 0031 = 1
    trading_partner(pg_db, edifact={"unb_id": prefix + SUPPLIER_GLN, "unb_qualifier": "14"})
    env = RouteEnv("edifact-inbound", services={"db": pg_db})
    step = AckStep(AckConfig(endpoint="partner-acks"), env)

    first = exchange(parse(raw))
    step.process(first)
    (out,) = first.side_outputs
    assert out.endpoint == "partner-acks" and out.document_type == "CONTRL" and b"UCI+77+" in out.body
    assert b"+7'" in out.body and len(SPLITTERS["transaction"].fn(first.body, first)) == 1

    again = exchange(parse(raw))
    step.process(again)
    (refusal,) = again.side_outputs
    assert b"UCI+77+" in refusal.body and b"+4+26'" in refusal.body
    assert SPLITTERS["transaction"].fn(again.body, again) == []
    assert [e["kind"] for e in again.exceptions] == ["duplicate_interchange", "duplicate_interchange"]
    assert int(refusal.document_key) == int(out.document_key) + 1  # references from the shared allocator
    with pg_db.session() as s:
        kinds = s.scalars(select(BusinessException.kind).where(BusinessException.message_id == again.message_id)).all()
    assert kinds == ["duplicate_interchange"]


def test_ack_step_says_what_to_configure() -> None:
    asked = unique_desadv(**{"+240301:0800+77'": b"+240301:0800+77++++1'"})
    with pytest.raises(StepError, match=r"set 'ack: \{endpoint: ...\}'"):
        AckStep(AckConfig(), RouteEnv("r")).process(exchange(parse(asked)))
    quiet = exchange(parse(unique_desadv()))
    AckStep(AckConfig(endpoint="x"), RouteEnv("r")).process(quiet)
    assert quiet.side_outputs == []  # no CONTRL asked for or agreed
    forced = exchange(parse(unique_desadv()))
    AckStep(AckConfig(endpoint="x", kind="CONTRL"), RouteEnv("r")).process(forced)
    assert forced.side_outputs[0].document_type == "CONTRL"


@pytest.mark.postgres
def test_ack_log_step_matches_an_inbound_contrl(pg_db: Database) -> None:
    from tests.edifact.test_contrl import _sent_orders

    partner = f"P{secrets.token_hex(4)}"
    sent, _ = _sent_orders(pg_db, partner)
    env = RouteEnv("edifact-acks", services={"db": pg_db})
    # The partner's CONTRL for our ORDERS, built by the hub's own builder from the partner's side.
    contrl = PARSERS["edifact"].fn
    # The hub plays the partner here: the sender (the hub itself) is no registered partner.
    reply = AckStep(AckConfig(endpoint="back", kind="CONTRL", unknown_sender="accept"), env)
    ours = exchange(contrl(sent, EdifactParseConfig(), exchange(sent)))
    reply.process(ours)
    inbound = ours.side_outputs[0].body
    ex = exchange(b"")
    (part,) = SPLITTERS["transaction"].fn(contrl(inbound, EdifactParseConfig(), ex), ex)
    (done,) = EdifactAckLogStep(AckLogConfig(), env).process(exchange(part))
    assert isinstance(done.body, AckResult) and done.body.interchange_status.value == "ACCEPTED"
    assert len(done.headers["ack_matched_interchanges"]) == 1


# -- the hub edi CLI on EDIFACT files ----------------------------------------------------------


def test_cli_translate_prints_json_and_exit_0(tmp_path: Path) -> None:
    path = tmp_path / "asn.edi"
    path.write_bytes(HEALTHCARE_DESADV)
    result = runner.invoke(app, ["translate", str(path)])
    assert result.exit_code == 0 and result.stderr == ""
    assert '"document_type": "ship_notice"' in result.stdout and '"message_type": "DESADV"' in result.stdout


def test_cli_malformed_file_exit_1_with_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.edi"
    path.write_bytes(HEALTHCARE_DESADV.replace(b"UNT+31+1", b"UNT+30+1"))
    result = runner.invoke(app, ["translate", str(path)])
    assert result.exit_code == 1 and result.stdout.strip() == "[]"
    assert result.stderr == (f"{path}: segment 33 (UNT), element 1: UNT control count is 30 but the number of "
                             "segments from UNH to UNT is 31\n")


@pytest.mark.corpus
@pytest.mark.parametrize("path", [p for p in corpus_files("malformed") if b"UNB" in p.read_bytes()[:400]],
                         ids=lambda p: p.name)
def test_cli_never_tracebacks_on_malformed_corpus(path: Path) -> None:
    result = runner.invoke(app, ["translate", str(path)])
    assert result.exit_code in (0, 1) and "Traceback" not in result.stderr + result.stdout
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for line in result.stderr.splitlines():
        where = line.removeprefix(f"{path}: ").removeprefix("warning: ")
        assert where.startswith("segment "), line  # every problem names its place


def test_cli_ack_prints_the_contrl(tmp_path: Path) -> None:
    path = tmp_path / "asn.edi"
    path.write_bytes(HEALTHCARE_DESADV.replace(b"+240301:0800+77'", b"+240301:0800+77++++1'"))
    result = runner.invoke(app, ["ack", str(path)])
    assert result.exit_code == 0 and "UNH+1+CONTRL:D:3:UN'" in result.stdout and "UCM+1+DESADV:D:96A:UN:EAN005+7'" in result.stdout
