"""Helpers of benchmarks/chaos.py: private infrastructure (RabbitMQ nodes, a PostgreSQL
cluster), a recording HTTP endpoint, the hub's processes, ingest clients, and the accounting
that turns what was sent, stored and received into one row per scenario."""
