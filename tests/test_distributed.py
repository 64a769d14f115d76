"""Two CPU processes on localhost (jax.distributed, gloo collectives) train to the 1-process loss curve."""

from __future__ import annotations

import socket
import subprocess
import sys

import numpy as np

from jaxpaint.config import apply_overrides
from jaxpaint.train.loop import train_and_evaluate
from tests import toy_method
from tests.test_mesh import OVERRIDES, REPO, cli_env, curve


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_match_one_process(tmp_path):
    """Over 20 s (about 25 s): a two-process jax.distributed training and a one-process one."""
    two = tmp_path / "two"
    port = free_port()
    command = [sys.executable, "-m", "jaxpaint.cli", "train", "--config", "tests/toy_config.py:tiny",
               "--workdir", str(two), *OVERRIDES, "--config.distributed=True"]
    procs = [
        subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=cli_env(JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES="2",
                                     JAX_PROCESS_ID=str(i)))
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    for i, (p, (out, err)) in enumerate(zip(procs, outputs)):
        assert p.returncode == 0, err[-3000:]
        assert f"(process {i} of 2)" in out

    one = tmp_path / "one"
    train_and_evaluate(apply_overrides(toy_method.get_config(), OVERRIDES), one)
    curve_one, curve_two = curve(one), curve(two)
    assert [c[:2] for c in curve_one] == [c[:2] for c in curve_two]
    for (step, split, m1), (_, _, m2) in zip(curve_one, curve_two):
        for name in m1:
            np.testing.assert_allclose(m2[name], m1[name], rtol=1e-4, err_msg=f"{split} {name} at step {step}")
