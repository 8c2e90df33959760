from __future__ import annotations

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
