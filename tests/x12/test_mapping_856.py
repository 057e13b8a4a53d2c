"""856 mapping: where a refusal of the canonical model is reported."""

from __future__ import annotations

from edi.common.diagnostics import Diagnostic
from edi.x12.engine import translate
from hub.canonical.identifiers import gs1_check_digit
from tests.x12.helpers import interchange

SSCC = "00614141000000001"
SSCC += str(gs1_check_digit(SSCC))


def test_a_line_the_model_refuses_is_located_at_its_item_level() -> None:
    """The mapping keeps one index per line (``lines.*``) instead of a key per line; the
    refusal of the second line's quantity must still name that line's HL, not the first."""
    body = ["BSN*00*ASN1*20250312*1205*0001", "HL*1**S", "DTM*011*20250312",
            "N1*ST*Central Receiving*UL*0614141000036", "HL*2*1*O", "PRF*PO-1", "HL*3*2*P", f"MAN*GM*{SSCC}",
            "HL*4*3*I", "LIN**VP*A-1", "SN1*1*2*BX", "HL*5*3*I", "LIN**VP*A-2", "SN1*2*-2*BX", "CTT*2"]
    items = list(translate(interchange([("856", body)], functional_id="SH")))
    assert not [item for item in items if isinstance(item, dict)]
    [refusal] = [item for item in items if isinstance(item, Diagnostic)]
    assert refusal.is_error and (refusal.segment_position, refusal.segment_id) == (15, "HL")  # HL*5, line 1
    assert "lines.1.qty_shipped: Input should be greater than or equal to 0" in refusal.reason
