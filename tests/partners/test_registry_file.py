"""The partner registry follows its file: loaded by every hub process at start, checked against
the route files it refers to, and the README's supplier walk-through working on a fresh data
folder with no manual registry step."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.db import Database
from hub.partners import PartnerConfig, PartnerRegistry
from hub.stubs import ErpStub
from tests.conftest import ROOT, free_port

HUB = [sys.executable, "-m", "hub"]


def run_hub(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*HUB, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def base_env(tmp_path: Path, routes: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(HUB_DATA_DIR=str(tmp_path / "data"), HUB_ROUTES_DIR=str(routes),
               WAREHOUSE_DIR=str(tmp_path / "warehouse"), SUPPLIER_OUTBOX_DIR=str(tmp_path / "suppliers"))
    return env


def copy_routes(tmp_path: Path) -> Path:
    routes = tmp_path / "routes"
    shutil.copytree(ROOT / "routes", routes)
    return routes


def partner(pid: str, isa: str, name: str = "Test partner") -> PartnerConfig:
    return PartnerConfig.model_validate({"id": pid, "name": name, "roles": ["SUPPLIER"],
                                         "x12": {"isa_qualifier": "ZZ", "isa_id": isa}})


# -- sync --------------------------------------------------------------------------------------

def test_sync_adds_changes_removes_only_what_its_file_holds(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    db.create_schema()
    registry = PartnerRegistry(db)
    registry.load([partner("OTHER", "OTHERCO")], source_file=str(tmp_path / "elsewhere.yaml"))
    source = str(tmp_path / "partners.yaml")

    first = registry.sync([partner("A", "ACO"), partner("B", "BCO")], source)
    assert (first.added, first.changed, first.removed) == (["A", "B"], [], [])

    again = registry.sync([partner("A", "ACO"), partner("B", "BCO")], source)
    assert not again.any and again.unchanged == 2
    assert "unchanged (2 partner(s))" in again.summary()

    # B renamed, A gone, C new; the ISA id BCO moves to C in the same edit.
    third = registry.sync([partner("B", "BNEW", "Renamed"), partner("C", "BCO")], source)
    assert (third.added, third.changed, third.removed) == (["C"], ["B"], ["A"])
    assert registry.by_id("A") is None and registry.by_isa("ZZ", "BCO").id == "C"
    assert registry.by_id("OTHER") is not None  # loaded from another file: not this file's to remove
    assert "added C; changed B; removed A" in third.summary()

    registry.load([partner("K", "KCO", "A test's own variant")])  # through the Python API, without a file
    fourth = registry.sync([partner("B", "BNEW", "Renamed"), partner("C", "BCO"), partner("K", "KCO")], source)
    assert fourth.added == [] and fourth.kept == ["K"] and registry.by_id("K").name == "A test's own variant"


# -- validate ------------------------------------------------------------------------------------

DANGLING = """\
partners:
  - id: P-1
    name: One
    roles: [SUPPLIER]
    x12: {isa_qualifier: ZZ, isa_id: ONE}
    outbound_endpoints: {purchase_order: no-such-endpoint}
  - id: P-2
    name: Two
    roles: [SUPPLIER]
    as2:
      as2_id: TWO-AS2
      certificate: certs/missing.crt
"""

ROUTE_REFS = """\
endpoints:
  p1-as2:
    as2: {partner: P-1, url: "http://127.0.0.1:9/as2"}
  ghost-as2:
    as2: {partner: P-9, url: "http://127.0.0.1:9/as2"}
channels:
  ghost-drop:
    filedrop: {partner: P-404}
"""


def test_validate_names_every_dangling_reference_at_its_line(tmp_path: Path) -> None:
    routes = tmp_path / "routes"
    routes.mkdir()
    (routes / "partners.yaml").write_text(DANGLING)
    (routes / "refs.yaml").write_text(ROUTE_REFS)
    result = run_hub("partners", "validate", env=base_env(tmp_path, routes))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    expected = [
        f"{routes}/partners.yaml:6: partners.0.outbound_endpoints.purchase_order: endpoint 'no-such-endpoint' is not defined",
        f"{routes}/partners.yaml:12: partners.1.as2.certificate: certificate file {routes}/certs/missing.crt:",
        f"{routes}/refs.yaml:3: as2 endpoint p1-as2: partner P-1 has no as2 section",
        f"{routes}/refs.yaml:5: as2 endpoint ghost-as2 names partner 'P-9', which is not in the partner registry",
        f"{routes}/refs.yaml:8: channel ghost-drop is bound to partner 'P-404', which is not in the partner registry",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in lines), (start, lines)


def test_the_shipped_registry_validates_with_its_routes(tmp_path: Path) -> None:
    result = run_hub("partners", "validate", env=base_env(tmp_path, ROOT / "routes"))
    assert result.returncode == 0, result.stderr
    assert "partner(s) OK" in result.stdout


def test_a_process_refuses_to_start_on_an_invalid_registry(tmp_path: Path) -> None:
    routes = copy_routes(tmp_path)
    text = (routes / "partners.yaml").read_text().replace("CONTRL: nordmed-acks", "CONTRL: nordmed-akcs")
    (routes / "partners.yaml").write_text(text)
    line = next(n for n, ln in enumerate(text.splitlines(), 1) if "nordmed-akcs" in ln)
    result = run_hub("filedrop", env=base_env(tmp_path, routes), timeout=60)
    assert result.returncode == 2
    assert f"{routes}/partners.yaml:{line}: partners.1.outbound_endpoints.CONTRL: endpoint 'nordmed-akcs'" in result.stderr


# -- the README's walk-through ----------------------------------------------------------------------


@pytest.fixture
def erp() -> ErpStub:
    stub = ErpStub().start()
    yield stub
    stub.stop()


def test_hub_run_takes_every_shipped_supplier_example_to_the_erp(tmp_path: Path, erp: ErpStub) -> None:
    """`make run` on a fresh data folder, then the README's copy of the six supplier examples:
    each reaches the ERP, without `hub partners load`."""
    env = base_env(tmp_path, ROOT / "routes")
    env.update(HUB_API_PORT=str(free_port()), ERP_SUPPLIER_DOCUMENTS_URL=f"{erp.url}/supplier/documents",
               ERP_INVENTORY_URL=f"{erp.url}/inventory/adjustments", HUB_WORKER_CONCURRENCY="1")
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen([*HUB, "run"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        inbox = tmp_path / "data" / "inbox"
        deadline = time.monotonic() + 60
        while not (inbox / "supplier-edifact").is_dir() and time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "run.log").read_text()
            time.sleep(0.2)
        files = sorted((ROOT / "examples" / "supplier-x12").iterdir()) + sorted(
            (ROOT / "examples" / "supplier-edifact").iterdir())
        for file in files:
            channel = "supplier-x12" if file.suffix == ".x12" else "supplier-edifact"
            shutil.copy(file, inbox / channel / file.name)
        senders: set[str] = set()
        while time.monotonic() < deadline:
            senders = {r.headers.get("X-Hub-Message-Id") for r in erp.requests if r.status == 200}
            if len(senders) >= len(files):
                break
            time.sleep(0.3)
        assert len(senders) == len(files) == 6, (tmp_path / "run.log").read_text()[-3000:]
        banner = (tmp_path / "run.log").read_text()
        assert "partners : partner registry" in banner and "added P-0042, P-0107" in banner.replace("\n", " ")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# -- changes while running ---------------------------------------------------------------------------

def test_a_running_process_loads_an_edited_registry_and_refuses_an_invalid_one(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from hub.app import Hub
    from hub.config import Settings
    from hub.partner_sync import RegistryWatcher, sync_partners

    routes = copy_routes(tmp_path)
    hub = Hub(Settings(data_dir=tmp_path / "data", routes_dir=routes))
    hub.setup()
    sync_partners(hub)
    watcher = RegistryWatcher(hub, interval=0.1)
    watcher.start()
    registry = PartnerRegistry(hub.db)
    try:
        path = routes / "partners.yaml"
        path.write_text(path.read_text() + "  - {id: P-0777, name: Added while running, roles: [SUPPLIER]}\n")
        deadline = time.monotonic() + 10
        while registry.by_id("P-0777") is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert registry.by_id("P-0777").name == "Added while running"

        text = path.read_text() + "  - {id: P-0778, name: Broken, roles: [NOT_A_ROLE]}\n"
        path.write_text(text)
        line = len(text.splitlines())
        while "is invalid" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.1)
        assert f"{path}:{line}: partners." in caplog.text and "the registry in force is unchanged" in caplog.text
        assert registry.by_id("P-0778") is None and registry.by_id("P-0777") is not None
    finally:
        watcher.stop()
        watcher.join()
        hub.db.dispose()
