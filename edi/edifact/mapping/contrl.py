"""CONTRL → ``ack_result`` (domain.md B.14): UCI interchange status (4 rejected, 7 accepted,
8 received only) and error, UCF groups, UCM per message with its UCS/UCD errors. The reading
itself lives in ``edi.edifact.contrl`` beside the CONTRL builder it mirrors."""

from __future__ import annotations

from typing import Any

from edi.edifact.contrl import contrl_result
from edi.edifact.mapping.base import MessageView, mapper


@mapper("CONTRL")
def map_contrl(view: MessageView) -> list[dict[str, Any]]:
    try:
        return [contrl_result(view.message)]
    except ValueError as exc:
        # UCI is mandatory in CONTRL: its absence is the standard's syntax, not a business problem.
        raise view.fail(None, str(exc), code="missing_segment", ack="13", syntax=True) from None
