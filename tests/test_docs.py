"""The docs keep up with the code: every step, parser and CLI command is documented, and the
README opens with the two commands."""

from __future__ import annotations

import re

from typer.main import get_command

from hub.cli import app
from hub.registry import PARSERS, STEPS, load_plugins
from tests.conftest import ROOT

DOCS = "\n".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", readme, re.S).group(1)
    assert readme.index("```sh") < 40
    assert [ln.split()[:2] for ln in first_block.strip().splitlines()] == [["make", "run"], ["make", "test"]]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run: ", makefile, re.M) and re.search(r"^test: ", makefile, re.M)
    assert "make test" in (ROOT / ".ci/run").read_text()


def test_readme_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target


def test_every_step_and_parser_is_documented() -> None:
    load_plugins()
    for kind, spec in STEPS.items():
        if _test_plugin(spec):
            continue  # registered by a test plugin (tests/plugins) that another test imported
        assert f"`{kind}`" in DOCS, f"step {kind!r} is not documented in docs/"
    for name in PARSERS:
        assert f"parse: {name}" in DOCS or f"`{name}`" in DOCS, f"parser {name!r} is not documented in docs/"


def _test_plugin(spec) -> bool:
    cls = getattr(spec, "cls", spec)
    return getattr(cls, "__module__", "").startswith("tests.")


def test_every_cli_command_is_documented() -> None:
    cli = get_command(app)
    text = DOCS + (ROOT / "README.md").read_text()
    for name in cli.commands:
        assert f"hub {name}" in text, f"`hub {name}` is not documented"
