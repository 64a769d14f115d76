"""Data parallelism: 4 forced CPU devices give the same curve as 1 device for the same seed and global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import jax
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the toy method is imported as tests.toy_method

from jaxpaint.config import apply_overrides  # noqa: E402
from jaxpaint.errors import JaxpaintError  # noqa: E402
from jaxpaint.inference import restore_run  # noqa: E402
from jaxpaint.train.loop import train_and_evaluate  # noqa: E402
from jaxpaint.engine.mesh import check_batch_size  # noqa: E402
from tests import toy_method  # noqa: E402

OVERRIDES = ["--config.num_steps=8", "--config.log_every=2", "--config.eval_every=4", "--config.checkpoint_every=8",
             "--config.preview_every=0", "--config.batch_size=8"]


def cli_env(**extra) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO), JAX_PLATFORMS="cpu", **extra)
    return env


def curve(workdir: Path) -> list[tuple[int, str, dict]]:
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["split"], r["metrics"]) for r in records]


def test_four_devices_match_one_device(tmp_path):
    """Over 20 s (about 27 s): a four-device subprocess and a one-device run of the same training."""
    four = tmp_path / "four"
    result = subprocess.run(
        [sys.executable, "-m", "jaxpaint.cli", "train", "--config", "tests/toy_config.py:tiny", "--workdir", str(four),
         *OVERRIDES],
        cwd=REPO, env=cli_env(XLA_FLAGS=os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"),
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "outputs in" in result.stdout

    one = tmp_path / "one"
    assert jax.device_count() == 1
    state = train_and_evaluate(apply_overrides(toy_method.get_config(), OVERRIDES), one)

    curve_one, curve_four = curve(one), curve(four)
    assert [c[:2] for c in curve_one] == [c[:2] for c in curve_four]
    for (step, split, m1), (_, _, m4) in zip(curve_one, curve_four):
        for name in m1:
            np.testing.assert_allclose(m4[name], m1[name], rtol=1e-4, err_msg=f"{split} {name} at step {step}")
    # The 4-device checkpoint restores onto this 1-device process, close to the 1-device parameters.
    _, restored = restore_run(four)
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(restored.params)):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-3, atol=1e-5)


def test_batch_must_split_over_devices():
    four_devices = SimpleNamespace(devices=np.zeros(4))
    check_batch_size(8, four_devices, "config x.py")
    with pytest.raises(JaxpaintError, match="config x.py: batch_size 6 does not divide evenly over 4 devices"):
        check_batch_size(6, four_devices, "config x.py")
