"""Resume: a run killed (SIGKILL) after a checkpoint and started again ends bit-identical to an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the toy method is imported as tests.toy_method

from jaxpaint.config import apply_overrides  # noqa: E402
from jaxpaint.inference import restore_run  # noqa: E402
from jaxpaint.train.loop import train_and_evaluate  # noqa: E402
from tests import toy_method  # noqa: E402

# Asynchronous checkpoints, as in real runs; the killed run sleeps in each step so that the kill
# lands mid-run (the sleep leaves the numbers alone: the reference run has none).
OVERRIDES = ["--config.async_checkpoint=True"]
SLOW = ["--config.model.step_delay_s=0.15"]


def finished_steps(checkpoints: Path) -> list[int]:
    if not checkpoints.is_dir():
        return []
    return sorted(int(p.name) for p in checkpoints.iterdir() if p.name.isdigit())


def test_killed_run_resumes_bit_identical(tmp_path):
    workdir = tmp_path / "killed"
    command = [sys.executable, "-m", "jaxpaint.cli", "train", "--config", "tests/toy_config.py:tiny",
               "--workdir", str(workdir), *OVERRIDES, *SLOW]
    env = dict(os.environ, PYTHONPATH=str(REPO), JAX_PLATFORMS="cpu")
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not finished_steps(workdir / "checkpoints") and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate()
    assert process.returncode == -signal.SIGKILL, stderr.decode()[-3000:]
    killed_at = finished_steps(workdir / "checkpoints")
    assert killed_at and max(killed_at) < 12, f"the kill should land mid-run; checkpoints {killed_at}"

    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]

    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    keys = [(r["step"], r["split"]) for r in records]
    assert len(keys) == len(set(keys)), f"duplicated steps after resume: {keys}"
    assert [s for s, split in keys if split == "train"] == [2, 4, 6, 8, 10, 12]

    reference = train_and_evaluate(apply_overrides(toy_method.get_config(), OVERRIDES), tmp_path / "uninterrupted")
    _, resumed = restore_run(workdir)
    assert int(resumed.step) == 12
    for a, b in zip(jax.tree.leaves(reference), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(np.asarray(b), np.asarray(a))
    reference_records = [json.loads(line) for line in (tmp_path / "uninterrupted" / "metrics.jsonl").read_text().splitlines()]
    assert [r["metrics"] for r in reference_records] == [r["metrics"] for r in records]
