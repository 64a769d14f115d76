"""One writer per run folder: the lock itself, two real `jaxpaint train` processes on one workdir, the
writers.jsonl and metrics records of resumed runs, and readers never restoring a half-written checkpoint."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import jax.numpy as jnp
import orbax.checkpoint as ocp
import pytest

from jaxpaint.engine import checkpoint as ckpt
from jaxpaint.locks import FolderBusy, exclusive_lock, wait_for_lock, writer_lock
from jaxpaint.train.metrics_log import METRICS_FILE, WRITERS_FILE, read_metrics

from tests.toy_config import get_config

REPO = Path(__file__).resolve().parents[1]


def test_second_writer_is_refused_naming_the_holder(tmp_path):
    # flock conflicts between two open file descriptions, so one process shows it.
    with writer_lock(tmp_path, 0) as holder:
        with pytest.raises(FolderBusy, match=f"run folder {tmp_path} is in use by process {os.getpid()} on host"):
            with writer_lock(tmp_path, 0):
                pass
        with writer_lock(tmp_path, 1):  # another process of the same distributed job
            pass
        assert json.loads((tmp_path / ".writer-0.lock").read_text())["run_id"] == holder["run_id"]
    with writer_lock(tmp_path, 0):  # released on exit
        pass


def test_a_refusal_names_a_holder_that_records_itself_just_after_its_flock(tmp_path):
    # The holder between its flock and its record: the refusal waits for the record instead of naming no one.
    path = tmp_path / ".writer-0.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    record = {"pid": 4242, "host": "h", "command": "jaxpaint train", "started": 0.0}
    late_write = threading.Timer(0.3, lambda: path.write_text(json.dumps(record)))
    late_write.start()
    try:
        with pytest.raises(FolderBusy, match=f"run folder {tmp_path} is in use by process 4242 on host h"):
            with writer_lock(tmp_path, 0):
                pass
    finally:
        late_write.join()
        os.close(fd)


def test_waiting_for_a_lock_prints_its_holder_then_takes_it(tmp_path, capsys):
    path = tmp_path / ".build-x.lock"
    taken = threading.Event()
    with exclusive_lock(path, "x"):
        waiter = threading.Thread(target=lambda: wait_for_lock(path, "dataset x").__enter__() and taken.set())
        waiter.start()
        time.sleep(0.3)
        assert not taken.is_set()
    waiter.join(timeout=10)
    assert taken.is_set()
    assert f"dataset x: waiting for process {os.getpid()} on host" in capsys.readouterr().err


def train_command(workdir, *overrides):
    return [sys.executable, "-m", "jaxpaint.cli", "train", "--config", "tests/toy_config.py:tiny",
            "--workdir", str(workdir), *overrides]


def steps_of(records, split):
    return [r["step"] for r in records if r["split"] == split]


def strictly_increasing(values) -> bool:
    return all(a < b for a, b in zip(values, values[1:]))


def test_two_trainings_started_together_one_trains_the_other_exits_2_then_a_resume_continues(tmp_path):
    """Over 20 s (about 20-30 s): two real `jaxpaint train` processes, the winner's steps slowed to hold its
    lock past the loser's start-up, then a resume."""
    from jaxpaint.train.loop import train_and_evaluate

    workdir = tmp_path / "w"
    # Slow steps keep the winner's lock held well past the loser's start-up.
    command = train_command(workdir, "--config.num_steps=8", "--config.model.step_delay_s=0.5")
    procs = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.pid, p.wait(timeout=240), *p.communicate()) for p in procs]
    assert sorted(rc for _, rc, _, _ in results) == [0, 2], results
    (winner, *_), (_, _, _, loser_err) = sorted(results, key=lambda r: r[1])
    error_lines = [line for line in loser_err.splitlines() if line.startswith("jaxpaint: error:")]
    assert len(error_lines) == 1 and "Traceback" not in loser_err
    assert f"run folder {workdir} is in use by process {winner} on host" in error_lines[0]

    config = get_config()  # the same run, resumed here to step 12
    config.num_steps, config.model.step_delay_s = 12, 0.5
    train_and_evaluate(config, workdir)
    writers = [json.loads(line) for line in (workdir / WRITERS_FILE).read_text().splitlines()]
    assert [(w["pid"], w["start_step"]) for w in writers] == [(winner, 0), (os.getpid(), 8)]
    records = read_metrics(workdir / METRICS_FILE)
    assert steps_of(records, "train") == [2, 4, 6, 8, 10, 12]
    assert strictly_increasing(steps_of(records, "val"))
    for r in records:
        assert r["run"] == writers[0 if r["step"] <= 8 else 1]["run_id"]
        assert {"step", "split", "metrics", "time"} <= set(r)


def test_an_incomplete_checkpoint_folder_is_never_restored(tmp_path):
    manager = ckpt.make_manager(tmp_path, async_save=False)
    manager.save(4, args=ocp.args.StandardSave({"w": jnp.full(3, 4.0)}), force=True)
    manager.wait_until_finished()
    manager.close()
    # An orbax save in progress, and a step folder written in part (no finalize marker).
    (tmp_path / ckpt.CHECKPOINT_DIR / "8.orbax-checkpoint-tmp-1700000000" / "default").mkdir(parents=True)
    (tmp_path / ckpt.CHECKPOINT_DIR / "12" / "default").mkdir(parents=True)
    manager = ckpt.make_manager(tmp_path, async_save=False)
    try:
        assert ckpt.latest_finished_step(manager) == 4
        restored = ckpt.restore_latest(manager, {"w": jnp.zeros(3)}, None)
    finally:
        manager.close()
    assert restored["w"].tolist() == [4.0, 4.0, 4.0]
    assert not ckpt.run_finished(tmp_path, 12) and ckpt.run_finished(tmp_path, 4)
