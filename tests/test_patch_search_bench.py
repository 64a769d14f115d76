"""`bench patch_search`: how seconds_per_image is made at sides too slow to time in full."""

from __future__ import annotations

import argparse

import pytest

from jaxpaint.benchmarks import patch_search


def parsed(*argv):
    parser = argparse.ArgumentParser()
    patch_search.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_large_sides_are_extrapolated_from_k_and_2k_steps(monkeypatch):
    calls = []

    def fake_seconds(size, iterations, seed):  # a fixed cost plus a per-step cost that grows with the side
        calls.append((size, iterations))
        return 3.0 + 0.01 * size * iterations

    monkeypatch.setattr(patch_search, "method_seconds", fake_seconds)
    figures = patch_search.method_figures(parsed("--method-sizes", "128", "256", "--method-measured-iterations", "10"))
    assert calls == [(128, 100), (256, 10), (256, 20)]  # 128 px in full, 256 px at k and 2k
    assert figures["seconds_per_image"]["128"] == pytest.approx(3.0 + 0.01 * 128 * 100)
    assert figures["seconds_per_image"]["256"] == pytest.approx(3.0 + 0.01 * 256 * 100)  # exact for a linear cost
    assert figures["iterations_measured"]["128"] == {"timed_iterations": [100], "extrapolated": False}
    assert figures["iterations_measured"]["256"]["timed_iterations"] == [10, 20]
    assert figures["iterations_measured"]["256"]["extrapolated"] is True
    assert "extrapolated linearly to 100" in figures["seconds_per_image_note"]
