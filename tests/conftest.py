from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bgnn_deploy.cli.main import app


@pytest.fixture
def cli():
    """Invoke the CLI in-process: ``cli("convert", path, "-o", out)``."""
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, [str(a) for a in args])

    return invoke


@pytest.fixture(autouse=True)
def _private_results_db(tmp_path, monkeypatch):
    """Runs made by tests go to a throw-away results database, not the user's."""
    monkeypatch.setenv("BGNN_DEPLOY_DB", str(tmp_path / "results.sqlite"))


@pytest.fixture(autouse=True)
def _private_config(tmp_path, monkeypatch):
    """No test reads the user's configuration: an empty config dir, no config variables."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user-config"))
    monkeypatch.delenv("BGNN_DEPLOY_CONFIG", raising=False)
    monkeypatch.delenv("BGNN_DEPLOY_TARGETS", raising=False)


# what a long command printed on plain stderr before it stopped: a stage starting
# ("LCE conversion ...") or ending ("✓ loading the model  0.1 s", "✗ ...")
PROGRESS_LINE = re.compile(r"^(✓|✗) .+  \d.* s$|^[^ ].* \.\.\.$")


@pytest.fixture
def user_error():
    """``user_error(result, "text")``: the CLI refused cleanly (exit 2, one ``error:`` line
    first on stderr after any progress lines, the text in it, no traceback)."""

    def check(result, text: str) -> None:
        assert result.exit_code == 2, result.output
        lines = result.stderr.splitlines()
        news = len(list(itertools.takewhile(PROGRESS_LINE.match, lines)))
        assert "\n".join(lines[news:]).startswith("error: "), result.stderr
        assert result.stderr.count("error: ") == 1, result.stderr
        assert text in result.stderr, result.stderr
        assert "Traceback" not in result.output + result.stderr

    return check


@pytest.fixture
def snapshot():
    """``snapshot(folder)``: every file under ``folder`` as {relative path: bytes}, to show
    that a command left it exactly as it was."""

    def take(folder) -> dict[str, bytes]:
        root = Path(folder)
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    return take
