"""Pieces shared by the X12 and EDIFACT engines: diagnostics, byte decoding, control-number
allocation and the interchange log (duplicates, ack matching)."""
