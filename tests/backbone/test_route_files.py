"""Route files: every problem in a folder is reported as file:line with a reason; the schema
validates real route files; files are data, never code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from hub.routes.loader import RouteSet
from hub.routes.schema import route_file_schema
from tests.conftest import ROOT

GOOD_ENDPOINTS = """
endpoints:
  erp:
    http: {url: "http://127.0.0.1:9/x"}
"""

BROKEN = {
    "a-unknown-step.yaml": """
routes:
  - name: one
    from: {format: csv}
    steps:
      - parse: json
      - frobnicate: yes
    to: [erp]
""",
    "b-unknown-transform.yaml": """
routes:
  - name: two
    from: {format: csv}
    steps:
      - transform: no.such.transform
    to: [erp]
""",
    "c-unknown-endpoint.yaml": """
routes:
  - name: three
    from: {format: csv}
    to:
      - erp
      - nowhere
""",
    "d-bad-match.yaml": """
routes:
  - name: four
    from:
      format: x12.856
      sender: "*"
    to: [erp]
""",
    "e-duplicate.yaml": """
routes:
  - name: one
    from: {format: json}
    to: [erp]
""",
    "f-syntax.yaml": """
routes:
  - name: six
    from: {format: csv
""",
    "g-code.yaml": """
routes:
  - name: seven
    from: !!python/object/apply:os.system ["touch /tmp/hub-was-pwned"]
    to: [erp]
""",
    "h-bad-csv-config.yaml": """
routes:
  - name: eight
    from: {format: csv}
    steps:
      - parse:
          csv:
            columns:
              qty: {column: Qty, index: 3}
    to: [erp]
""",
    "i-bad-policy.yaml": """
routes:
  - name: nine
    from: {format: csv}
    to: [erp]
    on_error:
      retries: 3
      backoff: {initial: soon}
""",
    "j-secret-header.yaml": """
endpoints:
  leaky:
    http:
      url: http://127.0.0.1:9/y
      headers: {Authorization: "Bearer abc123"}
""",
}


def line_of(name: str, needle: str) -> int:
    return next(i for i, ln in enumerate(BROKEN[name].split("\n"), 1) if needle in ln)


@pytest.fixture
def broken_dir(tmp_path: Path) -> Path:
    (tmp_path / "endpoints.yaml").write_text(GOOD_ENDPOINTS)
    for name, text in BROKEN.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_every_problem_is_reported_with_file_and_line(broken_dir: Path) -> None:
    problems = RouteSet.load(broken_dir).problems
    got: dict[tuple[str, int], list[str]] = {}
    for p in problems:
        got.setdefault((Path(p.file).name, p.line), []).append(p.reason)

    def expect(name: str, needle: str, fragment: str) -> None:
        key = (name, line_of(name, needle))
        assert key in got, f"no problem at {key}; got {sorted(got)}"
        assert any(fragment in reason for reason in got[key]), got[key]

    expect("a-unknown-step.yaml", "frobnicate", "unknown step 'frobnicate'")
    expect("b-unknown-transform.yaml", "transform:", "unknown transform 'no.such.transform'")
    expect("c-unknown-endpoint.yaml", "- nowhere", "unknown endpoint 'nowhere'")
    expect("d-bad-match.yaml", "format: x12.856", "must be one word")
    expect("d-bad-match.yaml", 'sender: "*"', "must be a literal id")
    expect("e-duplicate.yaml", "- name: one", "duplicate route name 'one' (first defined at")
    assert any(f == "f-syntax.yaml" and any("YAML syntax error" in r for r in rs) for (f, _), rs in got.items())
    expect("g-code.yaml", "from:", "is not allowed: configuration is plain data")
    expect("h-bad-csv-config.yaml", "qty:", "give exactly one of column")
    expect("i-bad-policy.yaml", "backoff:", "bad duration 'soon'")
    expect("j-secret-header.yaml", "headers:", "carries a secret")
    assert not Path("/tmp/hub-was-pwned").exists()
    assert {f for f, _ in got} == set(BROKEN)  # every broken file reported, the good one not


def test_validate_command_prints_file_line_and_fails(broken_dir: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "hub", "routes", "validate", str(broken_dir)], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 1
    lines = res.stdout.strip().splitlines()
    assert len(lines) == len(RouteSet.load(broken_dir).problems) >= 11
    for ln in lines:
        file, line, reason = ln.split(":", 2)
        assert file.startswith(str(broken_dir)) and int(line) >= 1 and reason.strip()
    assert "Traceback" not in res.stderr


def test_project_routes_are_valid_and_match_the_schema() -> None:
    rs = RouteSet.load(ROOT / "routes")
    assert rs.problems == []
    schema = route_file_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for path in sorted((ROOT / "routes").glob("*.yaml")):
        data = json.loads(json.dumps(YAML(typ="safe").load(path.read_text()), default=str))
        jsonschema.validate(data, schema)


def test_schema_accepts_both_filter_forms() -> None:
    schema = route_file_schema()
    cond = {"path": "body.qty", "op": "gt", "value": 0}
    for step in ({"filter": cond}, {"filter": {"when": cond}}):
        jsonschema.validate({"routes": [{"name": "x", "from": {}, "steps": [step]}]}, schema)


def test_schema_rejects_an_unknown_step() -> None:
    schema = route_file_schema()
    bad = {"routes": [{"name": "x", "from": {"format": "csv"}, "steps": [{"frobnicate": True}], "to": []}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_routes_test_command_shows_a_diff_on_mismatch(tmp_path: Path) -> None:
    import shutil

    routes = tmp_path / "routes"
    shutil.copytree(ROOT / "routes", routes)
    expected = routes / "tests/cycle-counts/good-file/expected/erp-inventory.json"
    expected.write_text(expected.read_text().replace('"qty": "120"', '"qty": "121"'))
    env = {"HUB_ROUTES_DIR": str(routes), "HUB_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-m", "hub", "routes", "test", "cycle-counts"], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "FAIL  cycle-counts/good-file" in res.stdout and "PASS  cycle-counts/bad-cells" in res.stdout
    assert '-    "qty": "121",' in res.stdout and '+    "qty": "120",' in res.stdout


def test_a_test_endpoint_must_name_another_endpoint(tmp_path: Path) -> None:
    (tmp_path / "endpoints.yaml").write_text(
        "endpoints:\n"
        "  erp:\n"
        "    http: {url: 'http://127.0.0.1:1/erp'}\n"
        "    test_endpoint: erp-tset\n"
        "  loop:\n"
        "    file: {path: /tmp/x}\n"
        "    test_endpoint: loop\n")
    problems = [str(p) for p in RouteSet.load(tmp_path).problems]
    assert any(p.endswith("endpoints.yaml:4: unknown endpoint 'erp-tset' in 'test_endpoint'") for p in problems), problems
    assert any(p.endswith("endpoints.yaml:7: an endpoint cannot be its own test endpoint") for p in problems), problems


def test_a_batch_is_declared_only_where_it_has_a_form(tmp_path: Path) -> None:
    """``batch:`` (docs/connectors.md "Batches"): http and file endpoints, json or raw, a file name
    holding the batch id, every key in one header only while it stays small."""
    (tmp_path / "endpoints.yaml").write_text(
        "endpoints:\n"
        "  erp:\n"
        "    http: {url: 'http://127.0.0.1:1/erp'}\n"
        "    batch: {max_documents: 100}\n"
        "  big:\n"
        "    http: {url: 'http://127.0.0.1:1/erp'}\n"
        "    batch: {max_documents: 500}\n"
        "  keyed:\n"
        "    http: {url: 'http://127.0.0.1:1/erp'}\n"
        "    batch: {max_documents: 500, items: keyed}\n"
        "  xml:\n"
        "    file: {path: /tmp/x, format: xml}\n"
        "    batch: {}\n"
        "  named:\n"
        "    file: {path: /tmp/x}\n"
        "    batch: {filename: 'day-{document_key}.json'}\n"
        "  partner:\n"
        "    sftp: {host: h, auth: {username_env: U, password_env: P}, host_key_sha256: "
        "'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', path: /in}\n"
        "    batch: {}\n")
    routes = RouteSet.load(tmp_path)
    problems = "\n".join(str(p) for p in routes.problems)
    assert routes.endpoint("erp").batch.max_documents == 100 and routes.endpoint("keyed").batch.items == "keyed"
    assert "at most 200 documents (use items: keyed for larger batches)" in problems
    assert "format xml has no batch form" in problems
    assert "unknown placeholder {document_key}" in problems
    assert "a sftp endpoint takes one document per transfer" in problems
    assert problems.count("endpoints.yaml") == 4, problems
