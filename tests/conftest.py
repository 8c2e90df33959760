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
