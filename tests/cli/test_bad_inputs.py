"""The bad-input table: impossible numbers, names and option values are refused by every
command with one `error:` line (a `hint:` where there is something to say) and exit 2,
before any work starts and never as a traceback."""

from __future__ import annotations

import pytest

TRAIN = ("train", "bin-dgcnn-bf2", "-o", "{tmp}/m.pt")
RUN = ("run", "{tmp}/m.tflite", "--target", "local")


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ((*RUN, "--threads", "a"), "--threads takes comma-separated integers"),
        ((*RUN, "--threads", "1,0"), "--threads takes integers >= 1"),
        ((*RUN, "--num-runs", "0"), "'--num-runs'"),
        ((*RUN, "--warmup-runs", "-1"), "'--warmup-runs'"),
        ((*RUN, "--idle-secs", "-1"), "'--idle-secs'"),
        ((*RUN, "--idle-secs", "nan"), "'--idle-secs'"),
        ((*RUN, "--num-runs", "many"), "'--num-runs'"),
        ((*RUN, "--no-such-flag"), "No such option"),
        ((*TRAIN, "--batch-size", "0"), "'--batch-size'"),
        ((*TRAIN, "--lr", "nan"), "must be a finite number"),
        ((*TRAIN, "--lr", "inf"), "must be a finite number"),
        ((*TRAIN, "--lr", "-0.1"), "must be above 0"),
        ((*TRAIN, "--epochs", "-1"), "'--epochs'"),
        ((*TRAIN, "--classes", "0"), "'--classes'"),
        ((*TRAIN, "--samples", "0"), "'--samples'"),
        ((*TRAIN, "--test-samples", "-5"), "'--test-samples'"),
        ((*TRAIN, "--points", "0"), "'--points'"),
        ((*TRAIN, "--dropout", "1"), "must be in [0, 1)"),
        ((*TRAIN, "--widths", "64,0"), "--widths takes integers >= 1"),
        ((*TRAIN, "--emb", "1000000000"), "must be <= 65536"),
        ((*TRAIN, "--k", "30", "--points", "10"), "cannot exceed the number of points"),
        ((*TRAIN, "--samples", str(10**12), "--epochs", "1"), "GiB of memory is available"),
        ((*TRAIN, "--seed", "-1"), "'--seed'"),
        (("evaluate", "{tmp}/m.pt", "--samples", "-1"), "'--samples'"),
        (("evaluate", "{tmp}/m.pt", "--points", "0"), "'--points'"),
        (("convert", "{tmp}/m.pt", "-o", "{tmp}/out", "--samples", "-3"), "'--samples'"),
        (("convert", "{tmp}/m.pt", "-o", "{tmp}/out", "--k", "0"), "'--k'"),
        (("verify", "{tmp}/m.tflite", "--target", "local", "--samples", "0"), "'--samples'"),
        (("report", "-o", "{tmp}/r", "--last", "0"), "'--last'"),
        (("targets", "show"), "Missing argument"),
        (("no-such-command",), "No such command"),
    ],
)
def test_impossible_inputs_are_one_error_line(cli, user_error, tmp_path, args, text):
    result = cli(*(a.format(tmp=tmp_path) for a in args))
    user_error(result, text)
    assert not (tmp_path / "m.pt").exists() and not (tmp_path / "out").exists()


def test_usage_errors_point_at_the_command_help(cli, tmp_path):
    result = cli("train", "bin-dgcnn-bf2", "-o", tmp_path / "m.pt", "--epochs", "x")
    assert result.stderr.splitlines()[1] == "hint: see 'bgnn-deploy train --help'"


def test_the_synthetic_data_refuses_sizes_it_cannot_hold():
    from bgnn_deploy.data import load_dataset
    from bgnn_deploy.errors import DataError

    with pytest.raises(DataError, match="GiB of memory is available"):
        load_dataset("synthetic", split="test", num_points=1024, samples=10**12)
    for sizes in (
        {"num_points": 0},
        {"num_points": 8, "samples": 0},
        {"num_points": 8, "classes": 0},
    ):
        with pytest.raises(DataError, match="must be >= 1"):
            load_dataset("synthetic", split="test", **sizes)
