"""EDI engines: ANSI X12 (``edi.x12``) and UN/EDIFACT (``edi.edifact``)."""
