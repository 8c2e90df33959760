"""The runner's native code under AddressSanitizer + UndefinedBehaviorSanitizer: the kernel
tests, every input the op fuzzer ever crashed on (each with the error our checks now give),
the committed corpus, and a bounded fuzzing run (tests/targets/fuzzing.py)."""

from __future__ import annotations

import pytest

from tests.targets import fuzz_seeds, fuzzing

pytestmark = pytest.mark.skipif(
    fuzzing.clang() is None, reason="clang is not installed (make system-deps installs it)"
)

# fuzz/regressions/<file>: what the harness reports for it now (FUZZ_OPS_VERBOSE); before
# the fix each one crashed under ASan or UBSan
REGRESSIONS = {
    "output-shape-rank-negative": "LceQuantize: input 0 has rank -1",
    "quantize-negative-dims": "LceQuantize: input 0 has dim 0 = -1",
    "knn-tie-rule-unterminated": "BgnnHammingKnn: ran",  # the unterminated string is ignored
    "knn-output-rows-short": "BgnnHammingKnn: output must be int32 [1, 64, 6]",
}
FUZZ_SECONDS = 45


def test_kernel_tests_clean_under_sanitizers():
    done = fuzzing.run_kernel_tests()
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert not fuzzing.findings(done.stdout + done.stderr)
    assert "dispatch picks" in done.stdout


def test_every_regression_is_listed():
    assert sorted(p.name for p in fuzzing.REGRESSIONS.iterdir()) == sorted(REGRESSIONS)


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_fuzz_regression_is_rejected_cleanly(name):
    done = fuzzing.replay([fuzzing.REGRESSIONS / name], verbose=True)
    assert done.returncode == 0, done.stderr[-4000:]
    assert not fuzzing.findings(done.stderr)
    assert REGRESSIONS[name] in done.stderr.splitlines()


def test_corpus_replays_clean():
    files = sorted(fuzzing.CORPUS.iterdir())
    assert len(files) > 100
    done = fuzzing.replay(files)
    assert done.returncode == 0, done.stderr[-4000:]
    assert not fuzzing.findings(done.stderr)


def test_corpus_reaches_every_op_run():
    """The seeds come from real converted models: every op runs on some of them."""
    done = fuzzing.replay(sorted(fuzzing.CORPUS.iterdir()), verbose=True)
    ran = {line.split(":")[0] for line in done.stderr.splitlines() if line.endswith(": ran")}
    assert ran == set(fuzz_seeds.KINDS)  # every op kind the runner has


def test_bounded_fuzzing_finds_nothing(tmp_path):
    done = fuzzing.fuzz(FUZZ_SECONDS, tmp_path)
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert done.returncode == 0 and not crashes, (crashes, done.stderr[-6000:])
    assert not fuzzing.findings(done.stderr)
    assert "stat::number_of_executed_units" in done.stderr
