"""SIGKILL at random (seeded) moments of inpaint, score, data export-track and data build leaves the previous
state or the complete new output, never a partial folder under the final name; a later build recovers."""

from __future__ import annotations

import filecmp
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from jaxpaint.cli import main
from jaxpaint.data.joints import Pose
from jaxpaint.data.track import write_track

REPO = Path(__file__).resolve().parents[1]
KILL_POINTS = 2


def jaxpaint_command(*args) -> list[str]:
    return [sys.executable, "-m", "jaxpaint.cli", *map(str, args)]


def run_and_kill(command: list[str], busy_glob: tuple[Path, str], delay: float) -> int:
    """Starts the command, waits until its staging folder (`busy_glob`: folder, pattern; "" to count `delay`
    from the start) appears, SIGKILLs it `delay` s later (if still running) and returns its exit status.
    Staging folders of earlier kills are removed first, so that the wait is for this run's."""
    folder, pattern = busy_glob
    for stale in folder.glob(pattern) if folder.is_dir() and pattern else ():
        shutil.rmtree(stale)
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while pattern and proc.poll() is None and not (folder.is_dir() and any(folder.glob(pattern))):
        time.sleep(0.01)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=60)


def same_tree(a: Path, b: Path) -> bool:
    compared = filecmp.dircmp(a, b)
    return (not compared.left_only and not compared.right_only and not compared.diff_files
            and not compared.funny_files and all(same_tree(a / d, b / d) for d in compared.common_dirs))


def final_names(folder: Path) -> list[str]:
    """Entries other than staging folders (hidden, or TFDS's `incomplete.*`)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith((".", "incomplete")))


@pytest.fixture(scope="module")
def small_track(tmp_path_factory):
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("kill") / "track"
    write_track(root, [(f"{i:03d}.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), [[8, 8, 20]],
                        Pose.empty()) for i in range(24)])
    return root


def check_killed_output(command, out: Path, reference: Path, seed: int):
    """Each kill leaves OUT absent (the previous state) or identical to the reference (complete)."""
    found = []
    for delay in random.Random(seed).sample([0.0, 0.05, 0.15, 0.4], KILL_POINTS):
        shutil.rmtree(out, ignore_errors=True)
        status = run_and_kill(command, (out.parent, f".{out.name}.*"), delay)
        assert not out.exists() or same_tree(out, reference), f"partial {out} after a kill {delay} s in"
        found.append((delay, status, "complete" if out.exists() else "absent"))
    print(command[3], found)


def test_killed_inpaint_leaves_no_partial_output(small_track, tmp_path):
    args = ["inpaint", "--method", "holes", "--input", small_track / "X", "--masks", small_track / "maskdata.json"]
    assert main([*map(str, args), "--out", str(tmp_path / "reference")]) == 0
    check_killed_output(jaxpaint_command(*args, "--out", tmp_path / "out"), tmp_path / "out",
                        tmp_path / "reference", seed=1)


def test_killed_export_track_leaves_no_partial_output(tiny_dataset, tmp_path):
    data_dir, name = tiny_dataset
    args = ["data", "export-track", "--source", "synthetic", "--data-dir", data_dir, "--size", "64",
            "--num-examples", "120", "--split", "test", "--limit", "12"]
    assert main([*map(str, args), "--out", str(tmp_path / "reference")]) == 0
    check_killed_output(jaxpaint_command(*args, "--out", tmp_path / "out"), tmp_path / "out",
                        tmp_path / "reference", seed=2)


# Runs `jaxpaint score` with a SIGKILL right after the k-th file operation of its output (each file written,
# then the swap): the write is too short a window to hit by timing, so the kill points are its steps.
KILL_AFTER_STEP = """
import os, signal, sys
from jaxpaint.data import images
k, steps = int(sys.argv[1]), [0]
def killing(fn):
    def wrapped(*args, **kwargs):
        result = fn(*args, **kwargs)
        steps[0] += 1
        if steps[0] == k:
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    return wrapped
images.write_bytes_atomic = killing(images.write_bytes_atomic)
images.swap_directories = killing(images.swap_directories)
from jaxpaint.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("valid", [True, False], ids=["valid", "invalid"])
def test_killed_score_keeps_the_previous_pair_or_writes_the_new_one(small_track, tmp_path, valid):
    """A valid submission's pair is scores.json and scores.txt; an invalid one's is scores.json alone (the old
    scores.txt must go with the old scores.json). Killed after each step of the write: old pair or new."""
    submission = small_track / "Y" if valid else tmp_path / "empty"
    submission.mkdir(exist_ok=True)
    args = ["score", small_track, submission, "--no-lpips"]
    assert main([*map(str, args), "--out", str(tmp_path / "reference")]) == (0 if valid else 1)
    new = {p.name: p.read_bytes() for p in (tmp_path / "reference").iterdir()}
    old = {"scores.json": b'{"status": "old"}\n', "scores.txt": b"DSSIM: old\n"}
    out, found = tmp_path / "scores", []
    for k in range(1, len(new) + 2):  # after each file, then after the swap
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        for name, data in old.items():
            (out / name).write_bytes(data)
        result = subprocess.run([sys.executable, "-c", KILL_AFTER_STEP, str(k), *map(str, args), "--out", str(out)],
                                cwd=REPO, capture_output=True, text=True)
        assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
        pair = {p.name: p.read_bytes() for p in out.iterdir()}
        assert pair in (old, new), f"mixed pair after step {k}: {sorted(pair)}"
        found.append("old" if pair == old else "new")
    assert found == ["old"] * len(new) + ["new"]  # the pair changes at the swap, never before


def test_killed_data_build_leaves_no_partial_dataset_and_a_rebuild_recovers(tmp_path):
    from jaxpaint.data import builder, loader

    data_dir, name = tmp_path / "data", builder.config_name("synthetic", 64, 0, 60)
    command = jaxpaint_command("data", "build", "--source", "synthetic", "--data-dir", data_dir, "--size", "64",
                               "--num-examples", "60")
    config_dir = loader.dataset_dir(data_dir, name)
    for delay in random.Random(4).sample([0.0, 0.1, 0.3], KILL_POINTS):
        status = run_and_kill(command, (config_dir, "incomplete*"), delay)
        assert not config_dir.is_dir() or final_names(config_dir) in ([], ["1.0.0"])
        built = builder.is_built(data_dir, name)
        if built:
            assert len(loader.open_split(data_dir, name, "test")) > 0
        print("data build", delay, status, "built" if built else "not built", sorted(os.listdir(config_dir)))
    version = builder.build("synthetic", data_dir, size=64, seed=0, num_examples=60)
    assert sorted(os.listdir(config_dir)) == ["1.0.0"] == [version.name]  # killed builds' leftovers cleared
    assert sum(len(loader.open_split(data_dir, name, s)) for s in ("train", "validation", "test")) > 0
