"""Route and registry files within bounds: an alias bomb (anchors of anchors, even unused), a merge
key, 50,000 levels of nesting and an oversized file are each one ``file:line`` problem from
``hub routes validate`` / ``hub partners validate`` — quickly, in bounded memory, never a
traceback — and no YAML text at all makes the loader raise. The commands run as processes with
a memory limit, as an operator would run them."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.yamlfile import MAX_FILE_BYTES, load_yaml
from tests.conftest import ROOT

MEMORY = 1536 * 1024 * 1024  # the bomb once took 1.2 GB and more than a minute


def bomb(levels: int = 9) -> str:
    """Anchors of anchors, nine aliases each, none of them used by a route."""
    lines = ["anchors:", "  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"  a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


def hub(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))

    start = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "hub", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                         check=False, preexec_fn=limit, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
                                                             "HUB_DATA_DIR": str(cwd / "data")})
    return run, time.monotonic() - start


def validate(tmp_path: Path, text: str, name: str = "routes.yaml") -> tuple[subprocess.CompletedProcess, float]:
    folder = tmp_path / "routes"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return hub("routes", "validate", str(folder), cwd=tmp_path)


def test_an_alias_bomb_is_refused_at_its_line(tmp_path: Path) -> None:
    run, took = validate(tmp_path, bomb())
    assert run.returncode == 1, run.stdout + run.stderr
    assert "routes.yaml:7: aliases expand the file by more than 100000 nodes (an alias of *a4 adds" in run.stdout
    assert "Traceback" not in run.stderr and took < 30


def test_a_merge_key_is_refused_at_its_line(tmp_path: Path) -> None:
    text = ("endpoints:\n  base: &base\n    http: {url: 5}\n  erp:\n    <<: *base\n    description: merged\n")
    run, _ = validate(tmp_path, text)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "routes.yaml:5: merge keys (<<) are not supported" in run.stdout


def test_deep_nesting_is_refused_without_a_traceback(tmp_path: Path) -> None:
    run, _ = validate(tmp_path, "routes: " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr[-2000:]
    assert "routes.yaml:1: nested more than 64 levels deep" in run.stdout


def test_the_partner_registry_has_the_same_bounds(tmp_path: Path) -> None:
    (tmp_path / "partners.yaml").write_text("partners: []\n" + bomb())
    run, _ = hub("partners", "validate", str(tmp_path / "partners.yaml"), cwd=tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "partners.yaml:8: aliases expand the file by more than 100000 nodes" in run.stdout + run.stderr


def test_an_oversized_file_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)
    doc, problems = load_yaml(path)
    assert doc is None and [str(p) for p in problems] == [
        f"{path}:1: file is {MAX_FILE_BYTES + 1} bytes, more than the {MAX_FILE_BYTES} a data file may have"]


def test_reused_anchors_within_bounds_still_load() -> None:
    doc, problems = load_yaml(ROOT / "routes" / "connectors.yaml")  # the fixed-width layout, anchored and reused
    assert problems == [] and doc is not None
    layouts = [step["parse"]["fixed"] for route in doc.data["routes"] for step in route["steps"]
               if isinstance(step.get("parse"), dict) and "fixed" in step["parse"]]
    assert len(layouts) == 2 and layouts[0] == layouts[1]


YAML_PIECES = st.sampled_from(["[", "]", "{", "}", ": ", ", ", "\n", "  ", "- ", "&a ", "&b ", "*a", "*b", "<<: ",
                               "x", "'q'", '"q"', "!!str ", "!t ", "? ", "| ", "#", "---\n", "${X}", "\t"])


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(YAML_PIECES, max_size=60))
def test_no_yaml_text_makes_the_loader_raise(tmp_path: Path, pieces: list[str]) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text("".join(pieces))
    doc, problems = load_yaml(path, env={})
    assert doc is not None or problems  # a document, or the reasons there is none
    assert all(p.line >= 1 for p in problems)
