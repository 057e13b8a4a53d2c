"""Connectors: inbound (file drop, HTTP API, SFTP) and outbound (HTTP, file, SFTP) edges of the hub."""
