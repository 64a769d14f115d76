"""`jaxpaint inpaint --distributed`: two CPU processes each inpaint their shard of a folder or split into the
same output folder, and the union is the one-process output byte for byte."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from jaxpaint.cli import main
from jaxpaint.commands.inpaint import shard_indices
from jaxpaint.data.images import save_png_atomic
from tests.test_distributed import free_port
from tests.test_mesh import REPO, cli_env


def test_shards_are_whole_batches_that_partition_the_inputs():
    for total, batch, count in [(7, 2, 2), (10, 3, 3), (1, 4, 2), (16, 4, 4), (5, 1, 3)]:
        shards = [shard_indices(total, batch, p, count) for p in range(count)]
        assert sorted(i for s in shards for i in s) == list(range(total))  # every input once
        for p, shard in enumerate(shards):
            # Batch k of the one-process run (inputs k·batch …) belongs wholly to process k mod count.
            assert all((i // batch) % count == p for i in shard)
            starts = [i for i in shard if i % batch == 0]
            assert shard == [j for s in starts for j in range(s, min(s + batch, total))]
    assert shard_indices(7, 2, 0, 2) == [0, 1, 4, 5] and shard_indices(7, 2, 1, 2) == [2, 3, 6]


def two_process_inpaint(args: list[str]) -> list[str]:
    port = free_port()
    command = [sys.executable, "-m", "jaxpaint.cli", "inpaint", *map(str, args), "--distributed"]
    procs = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=cli_env(JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES="2",
                                          JAX_PROCESS_ID=str(i)))
             for i in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    return [out for out, _ in outputs]


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_processes_inpaint_a_competition_folder_as_one(tmp_path):
    rng = np.random.default_rng(0)
    masks = {f"p{i}.png": [[int(rng.integers(0, 40)), int(rng.integers(0, 40)), 16]] for i in range(7)}
    for name in masks:
        save_png_atomic(tmp_path / "X" / name, rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    (tmp_path / "maskdata.json").write_text(json.dumps(masks))
    args = ["--method", "diffusion", "--input", tmp_path / "X", "--masks", tmp_path / "maskdata.json",
            "--batch-size", 2]

    outs = two_process_inpaint([*args, "--out", tmp_path / "two"])
    # 7 images in batches of 2: process 0 gets batches 0 and 2 (4 images), process 1 batches 1 and 3 (3).
    assert "4 images inpainted" in outs[0] and "(process 0 of 2)" in outs[0]
    assert "3 images inpainted" in outs[1] and "(process 1 of 2)" in outs[1]
    assert main(["inpaint", *map(str, args), "--out", str(tmp_path / "one")]) == 0
    one, two = folder_bytes(tmp_path / "one"), folder_bytes(tmp_path / "two")
    assert sorted(one) == sorted(masks)
    assert two == one


def test_two_processes_inpaint_a_split_as_one(tmp_path, tiny_dataset):
    data_dir, dataset = tiny_dataset
    args = ["--method", "holes", "--data-dir", data_dir, "--dataset", dataset, "--split", "test", "--limit", 5,
            "--batch-size", 2]
    outs = two_process_inpaint([*args, "--out", tmp_path / "two"])
    assert "3 images inpainted" in outs[0] and "2 images inpainted" in outs[1]
    assert main(["inpaint", *map(str, args), "--out", str(tmp_path / "one")]) == 0
    one, two = folder_bytes(tmp_path / "one"), folder_bytes(tmp_path / "two")
    assert sorted(one) == ["maskdata.json", *(f"test_{i:05d}.png" for i in range(5))]
    assert two == one  # maskdata.json (every example's blocks, from process 0) included
