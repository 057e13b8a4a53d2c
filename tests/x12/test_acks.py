"""TA1 / 997 / 999 built by the hub: content, envelope following the inbound file, pyx12's
validator, and reading our own acks back."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest

from edi.common.diagnostics import Diagnostic
from edi.x12.acks import acknowledge_file, build_reply
from edi.x12.engine import translate
from edi.x12.profile import X12Profile
from edi.x12.reader import read_x12
from tests.x12.helpers import PO_850, interchange

P997 = X12Profile(sender_id="HOSPITAL", receiver_id="SUPPLIER", ack_kind="997")
P999 = X12Profile(sender_id="HOSPITAL", receiver_id="SUPPLIER", ack_kind="999", version="005010")


def segments(ack: bytes) -> list[str]:
    return [s.strip() for s in ack.decode().split("~") if s.strip()]


def body(ack: bytes) -> list[str]:
    segs = segments(ack)
    return [s for s in segs if s.split("*")[0] in ("TA1", "AK1", "AK2", "AK3", "AK4", "AK5", "AK9", "IK3", "IK4", "IK5")]


def test_accepted_group_gets_ak5_a_and_ak9_a() -> None:
    ack = acknowledge_file(interchange([("850", PO_850), ("850", PO_850)]), P997)
    assert body(ack) == ["AK1*PO*1", "AK2*850*0001", "AK5*A", "AK2*850*0002", "AK5*A", "AK9*A*2*2*2"]


def test_errors_become_ak3_ak4_and_rejections() -> None:
    bad_date = [s.replace("20240115", "20241345") if s.startswith("BEG") else s for s in PO_850]
    data = interchange([("850", PO_850), ("850", bad_date)]).replace(b"SE*13*0001", b"SE*12*0001")
    assert body(acknowledge_file(data, P997)) == [
        "AK1*PO*1",
        "AK2*850*0001", "AK5*R*4",
        "AK2*850*0002", "AK3*BEG*2**8", "AK4*5**8*20241345", "AK5*R*5",
        "AK9*R*2*2*0",
    ]


def test_partially_accepted_group_and_unsupported_set() -> None:
    data = interchange([("850", PO_850), ("214", ["B10*1*2*SCAC"])])
    assert body(acknowledge_file(data, P997))[-3:] == ["AK2*214*0002", "AK5*R*1", "AK9*P*2*2*1"]


def test_group_trailer_errors_go_to_ak9() -> None:
    data = interchange([("850", PO_850)]).replace(b"GE*1*1", b"GE*3*1")
    assert body(acknowledge_file(data, P997))[-1] == "AK9*R*3*1*1*5"


def test_interchange_errors_get_a_ta1_rejection_and_no_997() -> None:
    data = interchange([("850", PO_850)]).replace(b"IEA*1*000000001", b"IEA*1*000000009")
    assert body(acknowledge_file(data, P997)) == ["TA1*000000001*240115*1200*R*001"]


def test_ta1_requested_by_isa14_and_duplicate_refused_with_025() -> None:
    data = interchange([("850", PO_850)], ack="1")
    assert body(acknowledge_file(data, P997))[0] == "TA1*000000001*240115*1200*A*000"
    interchange_read = read_x12(data).interchanges[0].interchange
    written = build_reply(interchange_read, P997, duplicate=True)
    assert written is not None and body(written.data) == ["TA1*000000001*240115*1200*R*025"]


def test_reply_follows_the_inbound_envelope_and_delimiters() -> None:
    data = interchange([("850", PO_850)], version="005010").replace(b"*00401*", b"*00501*")
    data = data.replace(b"*", b"^").replace(b"~\n", b"|\n").replace(b"^>|", b"^:|", 1)
    ack = acknowledge_file(data, P997).decode()
    isa = ack.split("|")[0]
    fields = isa.split("^")
    assert fields[6].strip() == "HOSPITAL" and fields[8].strip() == "SUPPLIER"  # parties swapped
    assert fields[12] == "00501" and fields[16] == ":" and len(isa) == 105
    assert "^005010|" in ack  # GS08 follows the acknowledged group


def test_a_group_of_acks_is_never_acknowledged() -> None:
    data = interchange([("997", ["AK1*PO*5", "AK9*A*1*1*1"])], functional_id="FA")
    assert acknowledge_file(data, P997) == b""


def test_our_997_reads_back_to_the_same_errors() -> None:
    bad_date = [s.replace("20240115", "20241345") if s.startswith("BEG") else s for s in PO_850]
    ack = acknowledge_file(interchange([("850", bad_date)]), P997)
    docs = [d for d in translate(ack) if not isinstance(d, Diagnostic)]
    (group,) = docs[0]["groups"]
    (acked,) = group["sets"]
    assert group["status"] == "REJECTED" and acked["status"] == "REJECTED" and acked["codes"] == ["5"]
    assert acked["errors"] == [{"segment_id": "BEG", "segment_position": 2, "segment_code": "8",
                                "element_position": 5, "element_code": "8", "bad_value": "20241345",
                                "context": []}]


# -- pyx12's validator -------------------------------------------------------------------------
def supply_chain_maps(tmp_path: Path) -> Path:
    """pyx12's maps with AK101/AK201 code lists opened to supply-chain groups and sets: pyx12
    ships HIPAA-only lists there (HC, 837 ...). Nothing else in the maps is changed."""
    import pyx12

    maps = tmp_path / "maps"
    shutil.copytree(Path(pyx12.__file__).parent / "map", maps)
    extra = {"AK101": ["PO", "PR", "SH", "IN", "SC", "IB"], "AK201": ["810", "832", "846", "850", "852", "855", "856", "860", "865", "214"]}
    for name in ("997.4010.xml", "999.5010.xml", "999.5010X231.A1.xml"):
        path = maps / name
        text = path.read_text()
        for xid, codes in extra.items():
            pattern = re.compile(rf'(<element xid="{xid}">.*?<valid_codes>)', re.S)
            text = pattern.sub(lambda m: m.group(1) + "".join(f"<code>{c}</code>" for c in codes), text, count=1)
        path.write_text(text)
    return maps


def pyx12_errors(ack: bytes, tmp_path: Path) -> tuple[bool, list[dict]]:
    import pyx12.params
    import pyx12.x12n_document

    src = tmp_path / "ack.x12"
    src.write_bytes(ack)
    report = io.StringIO()
    valid = pyx12.x12n_document.x12n_document(pyx12.params.params(), str(src), io.StringIO(), None, None, report,
                                              map_path=str(supply_chain_maps(tmp_path)))
    return valid, json.loads(report.getvalue() or "[]")


CASES = {
    "accepted": interchange([("850", PO_850), ("850", PO_850)]),
    "rejected": interchange([("850", [s.replace("20240115", "20241345") if s.startswith("BEG") else s
                                      for s in PO_850])]).replace(b"GE*1*1", b"GE*2*1"),
    "partial": interchange([("850", PO_850), ("214", ["B10*1*2*SCAC"])]),
}


@pytest.mark.parametrize("case", CASES)
def test_hub_997_passes_pyx12(case: str, tmp_path: Path) -> None:
    ack = acknowledge_file(CASES[case], P997)
    valid, report = pyx12_errors(ack, tmp_path)
    assert valid, json.dumps(report)[:3000]


@pytest.mark.parametrize("case", CASES)
def test_hub_999_passes_pyx12(case: str, tmp_path: Path) -> None:
    data = CASES[case].replace(b"*00401*", b"*00501*").replace(b"*004010~", b"*005010~")
    ack = acknowledge_file(data, P999)
    assert b"ST*999*0001*005010X231A1" in ack and b"IK5*" in ack
    valid, report = pyx12_errors(ack, tmp_path)
    assert valid, json.dumps(report)[:3000]
