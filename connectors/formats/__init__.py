"""Payload formats the connectors add: XML (safe parsing with an XPath field map, generic
canonical → XML rendering) and fixed-width records (declarative layouts)."""
