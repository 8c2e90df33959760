"""Keep TensorFlow's native start-up chatter (CUDA factory registration, XNNPACK notices,
absl warnings) off the user's terminal: it is written by C++ straight to fd 2, so only
redirecting the descriptor silences it. Our own errors are raised as exceptions and
reported by the CLI after the redirect ends.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["native_stderr_silenced"]


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (embedded use): nothing to silence
        yield
        return
    with tempfile.TemporaryFile() as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
