"""Connector overheads, each as a ratio to a baseline measured in the same run.

    .venv/bin/python benchmarks/connectors.py [-n 400]

1. Inbound API: N small CSV messages POSTed one after another to the FastAPI app served by
   uvicorn on 127.0.0.1 (API key, envelope and size checks, then hub.ingest), against the same N
   through ``Ingest.accept`` in-process: the price of HTTP and authentication per message.
2. Outbound HTTP guards: N sequential sends to a local HTTP server with a rate limit (set high
   enough never to wait) and a concurrency cap kept in PostgreSQL, against the same sender
   without guards: the price of sharing limits across worker processes. (The endpoint circuit
   is the delivery core's, measured with the deliveries by benchmarks/e2e.py.)
3. EDI out: N purchase orders through ``render: x12.850`` (partner lookup, control numbers from
   the shared allocator, interchange log row with the expected ack), against the X12 writer
   alone with in-memory numbers.

PostgreSQL (HUB_TEST_DATABASE_URL) in a fresh schema, the embedded broker (no RabbitMQ needed).
Timings are medians of 3 rounds; the ratios are what to compare between machines.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from connectors.inbound.api import ApiSettings, create_app  # noqa: E402
from connectors.inbound.httpserver import api_server  # noqa: E402
from connectors.outbound import Payload  # noqa: E402
from connectors.outbound.guards import DatabaseGuards  # noqa: E402
from connectors.outbound.http import HttpSender  # noqa: E402
from connectors.render import RenderStep  # noqa: E402
from connectors.security import create_api_key  # noqa: E402
from edi.x12.writer import PreviewNumbers, write_documents  # noqa: E402
from hub.exchange import Exchange  # noqa: E402
from hub.ingest import Inbound, Ingest  # noqa: E402
from hub.partners import DocumentAgreement, PartnerRegistry, read_partners_file  # noqa: E402
from hub.registry import RouteEnv, load_plugins  # noqa: E402
from hub.routes.model import HttpConfig  # noqa: E402
from tests.connectors.conftest import drop_schema, make_hub, new_schema  # noqa: E402
from tests.connectors.httpstubs import ResourceServer  # noqa: E402
from tests.connectors.test_edi_out import ACME_PO  # noqa: E402

CSV = b"Facility,Location,Item,Lot,Expiry,Counted Qty,UOM\nHOSP1,CENTRAL-A03,ST-10022,A1,2027-09-30,5,EA\n"


def timed(fn, n: int, rounds: int = 3) -> float:
    """Median seconds per call over ``rounds`` rounds of ``n`` calls."""
    per_call = []
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        per_call.append((time.perf_counter() - start) / n)
    return statistics.median(per_call)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_api(hub, n: int) -> tuple[float, float]:
    # The benchmark posts CSV as P-0042: agreed here (the example registry lets the supplier send EDI only).
    registry = PartnerRegistry(hub.db)
    acme = registry.by_id("P-0042")
    registry.load([acme.model_copy(update={"documents": [
        *acme.documents, DocumentAgreement(format="csv", doctype="bench")]})])
    key = create_api_key(hub.db, "P-0042").key
    port = free_port()
    settings = ApiSettings(relay=False)
    server = api_server(create_app(hub, settings), settings, host="127.0.0.1", port=port, log_level="warning")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key, "Content-Type": "text/csv"})
    ingest = Ingest(hub)

    def direct(i: int) -> None:
        ingest.accept(Inbound(raw=CSV, format="csv", doctype="bench", sender="P-0042", channel="bench"))

    def api(i: int) -> None:
        assert client.post("/api/v1/messages", content=CSV, params={"doctype": "bench"}).status_code == 202

    try:
        return timed(direct, n), timed(api, n)
    finally:
        client.close()
        server.should_exit = True
        thread.join(10)


def bench_guards(hub, n: int) -> tuple[float, float]:
    resource = ResourceServer()
    plain = HttpSender("bench-plain", HttpConfig(url=resource.url))
    guarded = HttpSender("bench-guarded", HttpConfig.model_validate({
        "url": resource.url, "max_concurrency": 8, "rate_limit": {"per_second": 1_000_000, "burst": 1_000_000}}),
        DatabaseGuards(hub.db))

    def send(sender):
        return lambda i: sender.send(Payload(f"d{i}", "m", "r", sender.name, i, b"{}", "application/json", f"d{i}"))

    try:
        return timed(send(plain), n), timed(send(guarded), n)
    finally:
        resource.stop()


def bench_render(hub, n: int, profile) -> tuple[float, float]:
    load_plugins()
    step = RenderStep(RenderStep.configure({"x12.850": {"sender_id": "HOSPITAL"}}), RouteEnv("bench", {"db": hub.db}))
    ex = Exchange(message_id="bench", body=ACME_PO, format="json", doctype="purchase_order", sender="erp")
    return (timed(lambda i: write_documents([ACME_PO], profile, PreviewNumbers()), n),
            timed(lambda i: step.process(ex), n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=400, help="calls per round (3 rounds, median)")
    args = parser.parse_args()
    schema, url = new_schema()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            hub = make_hub(Path(tmp) / "data", url)
            PartnerRegistry(hub.db).load(read_partners_file(ROOT / "routes" / "partners.yaml"))
            from connectors.edi_out import EdiSettings, EdiRenderOptions, x12_profile

            profile = x12_profile(PartnerRegistry(hub.db).by_id("P-0042"), EdiRenderOptions(sender_id="HOSPITAL"),
                                  EdiSettings(), "x12.850")
            rows = [("inbound API POST vs Ingest.accept", *bench_api(hub, args.n)),
                    ("HTTP send with DB guards vs none", *bench_guards(hub, args.n)),
                    ("render: x12.850 vs X12 writer alone", *bench_render(hub, args.n, profile))]
            hub.db.dispose()
    finally:
        drop_schema(schema)
    print(f"n = {args.n} per round, median of 3 rounds\n")
    print(f"{'measure':<40} {'baseline ms':>12} {'measured ms':>12} {'ratio':>7}")
    for name, base, measured in rows:
        print(f"{name:<40} {base * 1000:>12.3f} {measured * 1000:>12.3f} {measured / base:>7.2f}")


if __name__ == "__main__":
    main()
