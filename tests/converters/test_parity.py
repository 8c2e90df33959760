"""Parity judging: differences at rounding-level near ties are counted and accepted
(also when they move the argmax), any other difference is a failure (issue 13, item 5)."""

from __future__ import annotations

from bgnn_deploy.converters.parity import LayerParity, ParityReport, finish


def _layer(i, metric="l2", differing=0, near=0, flips=0, near_zero=0):
    agreement = None if metric == "l2" else 1.0 - flips / 100
    return LayerParity(i, metric, 1.0 - differing / 100, differing, near, agreement,
                       near_zero, flips)  # fmt: skip


def _judge(samples, agree, rel=None, float_logits=False):
    rel = rel or [0.0] * len(agree)
    return finish(ParityReport("t"), agree, [0.0] * len(agree), rel, samples,
                  float_logits=float_logits)  # fmt: skip


def test_an_argmax_moved_by_a_near_tie_is_counted_not_failed():
    tied = [_layer(0, differing=2, near=2), _layer(1, differing=5)]  # later layer follows
    clean = [_layer(0), _layer(1)]
    report = _judge([tied, clean], agree=[False, True], rel=[0.3, 0.0], float_logits=True)
    assert report.ok and report.differences == "near-ties-only"
    assert report.near_tie_samples == 1 and report.argmax_differs_at_near_ties == 1
    assert report.argmax_agreement == 0.5  # reported as measured


def test_a_difference_beyond_rounding_is_a_mismatch():
    unexplained = [_layer(0, differing=3, near=1)]
    report = _judge([unexplained, [_layer(0)]], agree=[False, True])
    assert not report.ok and report.differences == "mismatch"
    assert any("without a near tie" in f for f in report.failures)


def test_a_wrong_argmax_without_any_tie_fails():
    report = _judge([[_layer(0)], [_layer(0)]], agree=[True, False])
    assert report.failures == [
        "argmax agrees on 50.0% of samples (target 100%); 1 without a near tie"
    ]


def test_a_near_tie_in_one_sample_does_not_excuse_another():
    """Sample 0 ties at layer 0; sample 1 differs beyond rounding at layer 1 only, where
    the merged per-layer check stops judging (layer 0 has a tie): its argmax is judged."""
    report = _judge(
        [[_layer(0, differing=1, near=1), _layer(1)], [_layer(0), _layer(1, differing=4)]],
        agree=[True, False],
    )
    assert not report.ok and report.near_tie_samples == 1


def test_sign_flips_at_zero_are_near_ties_and_others_are_not():
    at_zero = [_layer(0, metric="hamming", flips=2, near_zero=2)]
    report = _judge([at_zero], agree=[False])
    assert report.ok and report.differences == "near-ties-only"
    real = [_layer(0, metric="hamming", flips=2, near_zero=1)]
    assert not _judge([real], agree=[True]).ok
