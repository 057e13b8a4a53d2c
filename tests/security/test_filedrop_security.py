"""The file drop, when a channel belongs to one partner (``partner:``): the same rule as the API.
Every interchange and group in a dropped file must be the partner's, as the EDI engines read
the whole file, and every document one the partner may send; anything else goes to error/ with
its reason, is recorded as a security event (bytes kept), and is never stored. A channel bound
to a partner the registry does not know holds its files (a configuration fault, not the file's)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from connectors.inbound.filedrop import DropChannel, FileDrop
from hub.app import Hub
from hub.routes.model import FileDropConfig
from hub.store import Message
from tests.security.conftest import events, unique
from tests.security.edi import edifact, x12

pytestmark = pytest.mark.postgres


def drop(hub: Hub, tmp_path: Path, files: dict[str, bytes], **channel: str) -> DropChannel:
    ch = DropChannel(f"ch-{unique()[-6:]}", tmp_path / "inbox", stable_seconds=0, **channel)
    ch.folder.mkdir(parents=True)
    for name, body in files.items():
        (ch.folder / name).write_bytes(body)
    FileDrop(hub, [ch]).scan()
    return ch


def stored(hub: Hub, ch: DropChannel) -> list[Message]:
    with hub.db.session() as s:
        return list(s.scalars(select(Message).where(Message.channel == f"filedrop:{ch.name}")))


def refused_reasons(ch: DropChannel) -> dict[str, str]:
    """Original name → the reason line of its .reason file in error/."""
    out = {}
    for note in ch.error.glob("*.reason"):
        lines = dict(line.split(": ", 1) for line in note.read_text().splitlines())
        out[lines["file"]] = lines["reason"]
    return out


def test_smuggled_interchanges_go_to_error_and_are_recorded(sec_hub: Hub, tmp_path: Path) -> None:
    own = x12("ACMEMED", unique())
    files = {
        "multibyte.x12": (own + x12("RIVALMED", unique(), sep="§")).encode(),
        "blank-isa01.x12": (own + x12("RIVALMED", unique(), isa01="  ")).encode(),
        "line-break.x12": (own + x12("RIVALMED", unique()).replace("ISA*00*", "ISA*0\n0*", 1)).encode(),
        "own.x12": (own + x12("ACMEMED", unique(), sep="§")).encode(),
    }
    ch = drop(sec_hub, tmp_path, files, partner="P-0042")
    reasons = refused_reasons(ch)
    assert sorted(reasons) == ["blank-isa01.x12", "line-break.x12", "multibyte.x12"]
    assert all(r.startswith("sender_not_owned: ") and "belongs to partner P-0777" in r for r in reasons.values())
    (msg,) = stored(sec_hub, ch)
    assert (msg.filename, msg.sender, msg.headers["partner_id"]) == ("own.x12", "ACMEMED", "P-0042")
    recorded = events(sec_hub, "sender_not_owned", channel=f"filedrop:{ch.name}")
    assert sorted(e.detail["filename"] for e in recorded) == sorted(reasons)
    assert {e.sha256 for e in recorded} == {hashlib.sha256(files[n]).hexdigest() for n in reasons}


def test_edifact_with_a_second_una_is_refused_for_a_bound_channel(sec_hub: Hub, tmp_path: Path) -> None:
    body = (edifact("5790000000001", "14", unique()[-6:])
            + edifact("4012345000009", "14", unique()[-6:], una="|*.? #")).encode()
    ch = drop(sec_hub, tmp_path, {"orders.edi": body}, partner="P-0888")
    assert "belongs to partner P-0107" in refused_reasons(ch)["orders.edi"] and stored(sec_hub, ch) == []


def test_a_supplier_channel_takes_no_cycle_counts_but_the_stock_system_does(sec_hub: Hub, tmp_path: Path) -> None:
    counts = b"Facility,Location,Item,Counted Qty\nHOSP1,A03,ST-1,4\n"
    supplier = drop(sec_hub, tmp_path / "s", {"counts.csv": counts}, partner="P-0042", format="csv",
                    doctype="cycle_count")
    assert refused_reasons(supplier) == {"counts.csv": "doctype_not_allowed: partner P-0042 may not send document "
                                                       "type 'cycle_count' as csv (allowed: none)"}
    stock = drop(sec_hub, tmp_path / "h", {"counts.csv": counts}, partner="P-0500", format="csv",
                 doctype="cycle_count")
    (msg,) = stored(sec_hub, stock)
    assert (msg.doctype, msg.sender, msg.headers["partner_id"]) == ("cycle_count", "P-0500", "P-0500")


def test_an_unknown_bound_partner_holds_the_file(sec_hub: Hub, tmp_path: Path) -> None:
    ch = drop(sec_hub, tmp_path, {"own.x12": x12("ACMEMED", unique()).encode()}, partner="P-NOPE")
    assert not ch.error.exists() or not any(ch.error.iterdir())  # the file is not to blame
    (held,) = [p for p in ch.processing.iterdir() if not p.name.endswith(".reason")]
    note = (ch.processing / f"{held.name}.reason").read_text()
    assert "bound to partner P-NOPE, which is not in the partner registry" in note


def test_a_bound_channel_takes_its_sender_from_the_partner() -> None:
    with pytest.raises(ValidationError, match="takes its sender from the partner"):
        FileDropConfig.model_validate({"partner": "P-0042", "sender": "someone-else"})
