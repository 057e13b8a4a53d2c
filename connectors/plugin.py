"""Route components of the connectors (entry point ``supply_hub.plugins: connectors``):
``render`` step, ``parse: xml``, ``parse: fixed``, ``render: fixed``, ``render: xml``."""

from connectors import render  # noqa: F401
from connectors.formats import fixed, xmlin, xmlout  # noqa: F401
