"""Inbound connectors: everything that brings messages into the hub goes through hub.ingest."""
