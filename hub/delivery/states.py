"""The states of a delivery (see ``hub.delivery`` for the transitions)."""

from __future__ import annotations

PENDING = "pending"  # a task message is on its way to a worker
SENDING = "sending"  # claimed by a worker that is calling the endpoint (until lease_until)
RETRYING = "retrying"  # the endpoint failed this document, or a local limit; next try at next_attempt_at
WAITING = "waiting"  # the endpoint is down (its circuit is open); released when it answers again
BLOCKED = "blocked"  # ordered endpoint: an earlier document with the same key is not settled yet
DELIVERED = "delivered"
DEAD_LETTERED = "dead_lettered"
DISCARDED = "discarded"  # an operator closed its dead letter without delivering it

SETTLED = (DELIVERED, DEAD_LETTERED, DISCARDED)
UNSETTLED = (PENDING, SENDING, RETRYING, WAITING, BLOCKED)
ALL = UNSETTLED + SETTLED

SIDE_SEQ = 10_000  # deliveries numbered from here are side outputs (acks, notices), not the message's documents
