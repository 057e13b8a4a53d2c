"""Delivery: getting one rendered document to one endpoint, truthfully and without giving up
while the endpoint is merely down.

A delivery row (``hub.store.Delivery``) moves through these states (``states``):

    pending ──claim──> sending ──delivered──> delivered
       ^                 │ ├──reject (4xx)──────────> dead_lettered
       │                 │ ├──retry (500 …)──> retrying ──due──> pending   (spends a retry;
       │                 │ │                                      the last one dead-letters)
       │                 │ ├──unavailable / circuit open──> waiting ──circuit closes──> pending
       │                 │ └──busy (local limit)──> retrying (soon, nothing spent)
       └── blocked <─────┘ (ordered endpoint: an earlier document with the same key goes first)

- ``deliver``: the task body. It claims the row (one UPDATE; a lease, so a copy of the task
  does not send it twice), asks the endpoint's circuit, calls the connector, and settles the
  outcome in one transaction with the attempt, the stage and the message's derived status.
- ``circuit``: outage detection per endpoint, shared by every process.
- ``schedule``: the store-driven scheduler run by every worker's relay loop: due retries,
  probes and released waits, successors of ordered deliveries, expired leases, and waits past
  the endpoint's ``max_outage``.
- ``sending``: the vocabulary connectors answer in, and the registry of sender factories.

Waits and retries live in the store, not in the broker: a task message is acked once its
outcome is committed, so nothing sits unacknowledged in a worker for minutes, a restart loses
nothing, and ``hub messages`` can say exactly what each document is waiting for.
"""
