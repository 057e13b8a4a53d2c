"""The partner simulator: a trading partner that answers the purchase orders the hub sends.

Why it is part of the product: a hub is adopted by watching a purchase order go out and come
back — acknowledged, shipped, received, invoiced — and by seeing each way a supplier gets it
wrong land in the review queue. GHX tests new trading partners against an automated test
supplier for the same reason. Integration teams use this one to try their routes and SLA
clocks before a real partner is connected, and to write their partners' habits down as
scenarios (YAML data, not code).

One module per job:

- ``scenarios``: what a scenario says (YAML files in ``scenarios/``, more with ``--scenarios DIR``).
- ``answers``: the canonical documents a supplier sends for a PO under a scenario (855, 856, 810)
  and what the dock receives — pure functions of the PO and the scenario.
- ``wire``: EDI in and out from the partner's side — reading the X12 850 / EDIFACT ORDERS, writing
  the 997/999 or CONTRL (accepting or rejecting) and the business documents with the partner's own
  control numbers (``numbers``), so the hub sees exactly what a partner's translator would send.
- ``channels``: where the hub puts the partner's orders and where the partner's answers go, read
  from the routes and the partner registry (folders, HTTP, the hub's API), with
  ``sftp_mailbox`` (the partner's folders on an SFTP server) and ``as2_station`` (the partner's
  AS2 server and its messages to the hub's ``/as2``).
- ``schedule``: the scenario's business time (hours, days) compressed to seconds on demand.
- ``supplier``: the simulated supplier's loop (``hub simulate supplier``).
- ``cycle``: the whole order-to-invoice cycle against the real routes (``hub simulate
  order-to-invoice``), with ``hub_processes`` starting a worker and a file drop when none runs.
- ``summary``: what the hub made of the cycle — documents on the PO's trail, exceptions, match.
- ``cli``: the ``hub simulate`` commands.
"""
