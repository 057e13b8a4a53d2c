"""X12 diagnostics: the one error type of the X12 engine and the acknowledgement code tables.

A defect is a ``Diagnostic`` (``edi.common.diagnostics``) whose ``ack_code`` holds the code the
matching acknowledgement element uses; which element depends on ``level``:

- ``Level.INTERCHANGE`` → TA105 note code (``TA1_NOTE_CODES``)
- ``Level.GROUP`` → AK905 functional group syntax error code (``GROUP_ERROR_CODES``)
- ``Level.TRANSACTION`` → AK502 / IK502 set syntax error code (``SET_ERROR_CODES``)
- ``Level.SEGMENT`` → AK304 / IK304 segment code, and when ``element_position`` is set,
  AK403 / IK403 element code in ``extra["element_code"]`` (``SEGMENT_ERROR_CODES``,
  ``ELEMENT_ERROR_CODES``).

``str(diagnostic)`` reads ``segment 14 (SE), element 1: count 12 but 13 segments``; segment
positions count from 1 at the first segment of the file.
"""

from __future__ import annotations

from edi.common.diagnostics import Diagnostic, EdiError, Level, Severity, error, warning

__all__ = [
    "Diagnostic", "X12Error", "Level", "Severity", "error", "warning",
    "TA1_NOTE_CODES", "GROUP_ERROR_CODES", "SET_ERROR_CODES", "SEGMENT_ERROR_CODES",
    "ELEMENT_ERROR_CODES",
]


class X12Error(EdiError):
    """Reading an X12 file cannot go on; ``.diagnostic`` says where and why."""


# TA105 (X12 element I18), domain.md 4.3.
TA1_NOTE_CODES = {
    "000": "No error",
    "001": "The Interchange Control Number in the Header and Trailer Do Not Match",
    "002": "This Standard as Noted in the Control Standards Identifier is Not Supported",
    "003": "This Version of the Controls is Not Supported",
    "004": "The Segment Terminator is Invalid",
    "005": "Invalid Interchange ID Qualifier for Sender",
    "006": "Invalid Interchange Sender ID",
    "007": "Invalid Interchange ID Qualifier for Receiver",
    "008": "Invalid Interchange Receiver ID",
    "009": "Unknown Interchange Receiver ID",
    "010": "Invalid Authorization Information Qualifier Value",
    "011": "Invalid Authorization Information Value",
    "012": "Invalid Security Information Qualifier Value",
    "013": "Invalid Security Information Value",
    "014": "Invalid Interchange Date Value",
    "015": "Invalid Interchange Time Value",
    "016": "Invalid Interchange Standards Identifier Value",
    "017": "Invalid Interchange Version ID Value",
    "018": "Invalid Interchange Control Number Value",
    "019": "Invalid Acknowledgment Requested Value",
    "020": "Invalid Test Indicator Value",
    "021": "Invalid Number of Included Groups Value",
    "022": "Invalid Control Structure",
    "023": "Improper (Premature) End-of-File (Transmission)",
    "024": "Invalid Interchange Content (e.g., Invalid GS Segment)",
    "025": "Duplicate Interchange Control Number",
    "026": "Invalid Data Element Separator",
    "027": "Invalid Component Element Separator",
}

# AK905-AK909 (element 716). The 4010 list lacks 19; ``acks`` maps it for 4010 output.
GROUP_ERROR_CODES = {
    "1": "Functional Group Not Supported",
    "2": "Functional Group Version Not Supported",
    "3": "Functional Group Trailer Missing",
    "4": "Group Control Number in the Functional Group Header and Trailer Do Not Agree",
    "5": "Number of Included Transaction Sets Does Not Match Actual Count",
    "6": "Group Control Number Violates Syntax",
    "19": "Functional Group Control Number not Unique within Interchange",
}

# AK502-AK506 / IK502 (element 718).
SET_ERROR_CODES = {
    "1": "Transaction Set Not Supported",
    "2": "Transaction Set Trailer Missing",
    "3": "Transaction Set Control Number in Header and Trailer Do Not Match",
    "4": "Number of Included Segments Does Not Match Actual Count",
    "5": "One or More Segments in Error",
    "6": "Missing or Invalid Transaction Set Identifier",
    "7": "Missing or Invalid Transaction Set Control Number",
    "23": "Transaction Set Control Number Not Unique within the Functional Group",
}

# AK304 / IK304 (element 720).
SEGMENT_ERROR_CODES = {
    "1": "Unrecognized segment ID",
    "2": "Unexpected segment",
    "3": "Mandatory segment missing",
    "4": "Loop Occurs Over Maximum Times",
    "5": "Segment Exceeds Maximum Use",
    "6": "Segment Not in Defined Transaction Set",
    "7": "Segment Not in Proper Sequence",
    "8": "Segment Has Data Element Errors",
}

# AK403 / IK403 (element 723).
ELEMENT_ERROR_CODES = {
    "1": "Mandatory data element missing",
    "2": "Conditional required data element missing",
    "3": "Too many data elements",
    "4": "Data element too short",
    "5": "Data element too long",
    "6": "Invalid character in data element",
    "7": "Invalid code value",
    "8": "Invalid Date",
    "9": "Invalid Time",
    "10": "Exclusion Condition Violated",
}
