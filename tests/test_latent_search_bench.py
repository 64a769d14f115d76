"""`bench latent_search`: how a short run is scaled to the full search, and the bound on the speedup."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from jaxpaint.benchmarks import latent_search as bench


def parsed(*argv):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_steps_are_scaled_to_the_full_search_and_the_loop_set_up_is_counted_once(monkeypatch):
    monkeypatch.setattr(bench, "networks", lambda size, args: (None, None, None, None))
    monkeypatch.setattr(bench, "inpainting_batch", lambda b, size, seed: {"image": np.zeros((b, 1))})
    monkeypatch.setattr(bench, "flops_per_image_iteration", lambda *args: 1e9)
    # Kernel: seconds of the 10 iterations run, for the batch; loop: (set-up, steps) for its 2 images.
    monkeypatch.setattr(bench, "kernel_rate", lambda g, d, gv, dv, settings, batch, seed: 0.02 * len(batch["image"]))
    monkeypatch.setattr(bench, "loop_seconds", lambda *args: (0.5, 2.0))
    monkeypatch.setattr(bench, "matmul_ceiling", lambda size: {"matmul_flops_per_s": 4e11})
    figures = bench.run(parsed("--sizes", "64", "--batches", "1", "64", "--fraction", "0.01", "--loop-images", "2"))

    assert figures["images_per_s"]["iterations_run"] == 10
    kernel = 64 / (0.02 * 64 * 100)  # the 10 iterations run stand for 1000
    loop = 2 / (0.5 + 2.0 * 100)  # the set-up happens once per image whatever the iteration count
    assert figures["images_per_s"]["64px"]["64"] == pytest.approx(kernel)
    assert figures["loop_images_per_s"]["64px"] == pytest.approx(loop)
    assert figures["speedup"] == {"batch": 64, "64px": pytest.approx(kernel / loop)}
    # At the ceiling a 1 GFLOP image-iteration runs 400 times a second: 0.4 images/s for 1000 iterations.
    assert figures["speedup_at_ceiling"]["64px"] == pytest.approx(0.4 / loop)
    assert figures["flops_per_s"]["64px"]["fraction_of_ceiling"]["64"] == pytest.approx(
        1e9 * 64 * 10 / (0.02 * 64) / 4e11)
