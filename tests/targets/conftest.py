from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def qemu_build():
    """The aarch64 runner and TFLite C API library, run under qemu-user (`make test`
    installs qemu-user and the arm64 cross libraries)."""
    from bgnn_deploy.targets.build import build_runner

    return build_runner("qemu-aarch64")
