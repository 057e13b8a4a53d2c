"""Route components of the connectors (entry point ``supply_hub.plugins: connectors``):
``render`` step, ``parse: xml``, ``parse: fixed``, ``render: fixed``, ``render: xml``,
``render: x12.850|855|856|810`` and ``render: edifact.ORDERS|ORDRSP|DESADV|INVOIC|RECADV``;
and the senders of the http, file and sftp endpoint kinds (``connectors.outbound``) and of as2
(``connectors.as2``)."""

from connectors import edi_out, render  # noqa: F401
from connectors.formats import fixed, xmlin, xmlout  # noqa: F401
from connectors import outbound  # noqa: F401
from connectors import as2  # noqa: F401
