"""Log lines partner text cannot forge.

A file name, an envelope id or an endpoint's answer may hold a CR/LF (a forged log line), an
escape sequence (a recoloured or cleared terminal) or a right-to-left override (a line that
reads differently from what it says). Every hub process logs through ``PrintableFormatter``:
each record's line is shown with such characters escaped (``hub.operations.terminal.printable``),
one record one line. A traceback, appended after the line, keeps its own line breaks.
"""

from __future__ import annotations

import logging

from hub.operations.terminal import printable

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class PrintableFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        return printable(super().formatMessage(record))


def configure_logging(level: str = "INFO") -> None:
    """The root logger of a hub process: one stream handler with the printable formatter."""
    handler = logging.StreamHandler()
    handler.setFormatter(PrintableFormatter(FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # schema checks at start are not news
