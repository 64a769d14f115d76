"""Bad input through the command line: every command refuses it with one line that names the culprit, a
non-zero exit, no traceback, and every file that existed before left exactly as it was.

The fixtures (64, 96 and 128 px synthetic datasets, and the run folders of a hourglass and a Context Encoder
with all-zero weights) are built once for the module; the cases run in-process through `jaxpaint.cli.main`,
a few as real subprocesses.

"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import scipy.io
from PIL import Image

from jaxpaint.cli import main

pytestmark = pytest.mark.slow  # a minute or more in all: scheduled first (conftest.py)

REPO = Path(__file__).resolve().parents[1]
DATASET = "synthetic_64_seed0_n24"
TINY_OVERRIDES = lambda p: [f"--config.data.data_dir={p['data']}", f"--config.data.dataset={DATASET}"]


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of an in-process `jaxpaint` call; argparse's exit counts as a status."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def file_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def save_png(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)
    return path


def untrained_run(workdir: Path, spec: str, overrides: list[str]) -> Path:
    """A run folder as `jaxpaint train --config SPEC OVERRIDES` leaves it, with all-zero weights: the cases
    read its config and restore its checkpoint, and none needs trained weights."""
    import jax
    import jax.numpy as jnp

    from jaxpaint.config import load_config
    from jaxpaint.methods import get_method
    from tests.run_folder import write_run
    from tests.states import zero_state

    config = load_config(spec, overrides)
    size, count = int(config.data.image_size), int(config.batch_size)
    batch = {"image": jnp.zeros((count, size, size, 3), jnp.float32), "hole": jnp.zeros((count, size, size), bool)}
    state = zero_state(get_method(config.method).init_state, config, jax.random.PRNGKey(config.seed), batch)
    return write_run(workdir, config, batch, state)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Paths of the shared inputs: datasets at 64, 96 and 128 px, a pose run, a Context Encoder run, a track,
    an image with its mask, and a competition folder with its maskdata.json. Built once for the module's
    75 cases."""
    root = tmp_path_factory.mktemp("bad_input")
    p = {"root": root, "data": root / "data"}
    for size in (64, 96, 128):
        assert main(["data", "build", "--source", "synthetic", "--size", str(size), "--num-examples", "24",
                     "--data-dir", str(p["data"])]) == 0
    for name, config in (("pose", "hourglass:tiny"), ("ce", "context_encoder:tiny")):
        p[name] = untrained_run(root / name, config, TINY_OVERRIDES(p))
    p["track"] = root / "track"
    assert main(["data", "export-track", "--source", "synthetic", "--size", "64", "--num-examples", "24",
                 "--data-dir", str(p["data"]), "--split", "test", "--limit", "3", "--out", str(p["track"])]) == 0
    rng = np.random.default_rng(0)
    p["image"] = save_png(root / "inputs" / "a.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    hole = np.zeros((64, 64), np.uint8)
    hole[10:30, 10:30] = 255
    p["mask"] = save_png(root / "inputs" / "m.png", hole)
    p["folder"] = root / "X"
    for name in ("p1.png", "p2.png"):
        save_png(p["folder"] / name, rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    p["masks"] = root / "maskdata.json"
    p["masks"].write_text(json.dumps({"p1.png": [[4, 4, 20]], "p2.png": [[30, 10, 12]]}))
    p["file"] = root / "a_file.txt"
    p["file"].write_text("not a folder\n")
    return p


# ---------------------------------------------------------------- the cases


@dataclasses.dataclass
class Case:
    name: str
    argv: Callable[[dict, Path], list]            # (world paths, the case's own folder) -> arguments
    culprits: tuple[str, ...]                     # each must appear in stderr
    setup: Callable[[dict, Path], None] | None = None
    writes: bool = False                          # the command may leave new files (none existed before)


def write_config(text: str) -> Callable[[dict, Path], None]:
    return lambda p, d: (d / "my_config.py").write_text(text)


def ce_train(p, d, *extra):
    return ["train", "--config", "context_encoder:tiny", "--workdir", d / "run", *TINY_OVERRIDES(p), *extra]


def build(p, d, *extra):
    return ["data", "build", "--source", "synthetic", "--data-dir", d / "data", *extra]


def data_cmd(command, p, *extra):
    return ["data", command, "--source", "synthetic", "--size", "64", "--num-examples", "24", "--data-dir", p["data"],
            *extra]


def inpaint(p, *extra):
    return ["inpaint", "--workdir", p["ce"], *extra]


def empty_track(p, d):
    for sub in ("ref/X", "ref/Y", "sub"):
        (d / sub).mkdir(parents=True)
    (d / "ref" / "maskdata.json").write_text("{}")


def lspet_folder(p, d):
    """An LSPET folder of 12 annotated images in which im00011.jpg is missing."""
    joints = np.zeros((14, 3, 12))
    joints[:, 0, :], joints[:, 1, :], joints[:, 2, :] = 20.0, 20.0, 1.0
    (d / "lspet" / "images").mkdir(parents=True)
    scipy.io.savemat(d / "lspet" / "joints.mat", {"joints": joints})
    for k in range(1, 13):
        if k != 11:
            save_png(d / "lspet" / "images" / f"im{k:05d}.jpg", np.zeros((80, 80, 3), np.uint8))  # JPEG by its name


def transparent_image(p, d):
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[:8, :8, 3] = 0
    save_png(d / "t.png", rgba)


CASES = [
    # --- the rows
    Case("train another method into a pose run's workdir",
         lambda p, d: ["train", "--config", "context_encoder:tiny", "--workdir", p["pose"], *TINY_OVERRIDES(p)],
         ("pose", "'hourglass'", "'context_encoder'")),
    Case("inpaint --out is the --input folder",
         lambda p, d: inpaint(p, "--input", p["folder"], "--masks", p["masks"], "--out", p["folder"]),
         ("--out", "--input", "same path")),
    Case("inpaint --out inside the --input folder",
         lambda p, d: inpaint(p, "--input", p["folder"], "--masks", p["masks"], "--out", p["folder"] / "out"),
         ("--input", "lies inside")),
    Case("inpaint --out holds the --input folder",
         lambda p, d: inpaint(p, "--input", p["folder"], "--masks", p["masks"], "--out", p["root"]),
         ("--input", "holds")),
    Case("inpaint --out is the --image's folder",
         lambda p, d: inpaint(p, "--image", p["image"], "--mask", p["mask"], "--out", p["image"].parent),
         ("--image", "holds")),
    Case("--config.log_every=0", lambda p, d: ce_train(p, d, "--config.log_every=0"), ("log_every", ">= 1")),
    Case("--config.checkpoint_every=0", lambda p, d: ce_train(p, d, "--config.checkpoint_every=0"),
         ("checkpoint_every", ">= 1")),
    Case("--config.loss.overlap=-1", lambda p, d: ce_train(p, d, "--config.loss.overlap=-1"), ("loss.overlap", ">= 0")),
    Case("a --config file with a syntax error",
         lambda p, d: ["train", "--config", d / "my_config.py", "--workdir", d / "run"], ("my_config.py", "line 2", "syntax"),
         setup=write_config("import ml_collections\ndef get_config(:\n")),
    Case("train --workdir is a regular file",
         lambda p, d: ["train", "--config", "context_encoder:tiny", "--workdir", p["file"], *TINY_OVERRIDES(p)],
         ("a_file.txt", "is a file")),
    Case("inpaint --workdir is a regular file",
         lambda p, d: ["inpaint", "--workdir", p["file"], "--image", p["image"], "--mask", p["mask"], "--out", d / "o"],
         ("a_file.txt", "is a file")),
    Case("inpaint with a pose run",
         lambda p, d: ["inpaint", "--workdir", p["pose"], "--image", p["image"], "--mask", p["mask"], "--out", d / "o"],
         ("'hourglass'", "pose evaluator", "--pose-model")),
    Case("inpaint --method hourglass",
         lambda p, d: inpaint(p, "--method", "hourglass", "--image", p["image"], "--mask", p["mask"], "--out", d / "o"),
         ("'hourglass'", "not an inpainting method")),
    Case("evaluate --method hourglass",
         lambda p, d: ["evaluate", "--method", "hourglass", "--workdir", p["pose"], "--data-dir", p["data"],
                       "--dataset", DATASET, "--out", d / "o"], ("'hourglass'", "not an inpainting method")),
    Case("evaluate a Context Encoder on a pose run",
         lambda p, d: ["evaluate", "--method", "context_encoder", "--workdir", p["pose"], "--data-dir", p["data"],
                       "--dataset", DATASET, "--out", d / "o"], ("pose", "'hourglass' run", "'context_encoder'")),
    Case("evaluate --limit 0",
         lambda p, d: ["evaluate", "--method", "holes", "--workdir", d / "w", "--data-dir", p["data"],
                       "--dataset", DATASET, "--limit", "0"], ("--limit", "positive", "got 0")),
    Case("evaluate --limit -3",
         lambda p, d: ["evaluate", "--method", "holes", "--workdir", d / "w", "--data-dir", p["data"],
                       "--dataset", DATASET, "--limit", "-3"], ("--limit", "got -3")),
    Case("inpaint --limit -3",
         lambda p, d: inpaint(p, "--data-dir", p["data"], "--dataset", DATASET, "--split", "test", "--limit", "-3",
                              "--out", d / "o"), ("--limit", "got -3")),
    Case("score an empty reference and submission",
         lambda p, d: ["score", d / "ref", d / "sub", "--out", d / "scores"], ("ref", "no images"), setup=empty_track),
    Case("train a 64 px config on a 96 px dataset",
         lambda p, d: ce_train(p, d, "--config.data.dataset=synthetic_96_seed0_n24"),
         ("synthetic_96_seed0_n24", "96x96", "data.image_size = 64", "--size 64")),
    Case("train a 64 px config on a 128 px dataset",
         lambda p, d: ce_train(p, d, "--config.data.dataset=synthetic_128_seed0_n24"),
         ("synthetic_128_seed0_n24", "128x128", "data.image_size = 64", "--size 64")),
    Case("train on a dataset that is not built",
         lambda p, d: ce_train(p, d, "--config.data.dataset=synthetic_64_seed5"),
         ("synthetic_64_seed5", "not built", "--size 64 --seed 5")),
    Case("an LSPET folder missing im00011.jpg",
         lambda p, d: ["data", "build", "--source", "lspet", "--data-dir", d / "data", "--manual-dir", d / "lspet"],
         ("im00011.jpg",), setup=lspet_folder),
    # --- config loading and overrides
    Case("a config file without get_config",
         lambda p, d: ["train", "--config", d / "my_config.py", "--workdir", d / "run"], ("my_config.py", "get_config"),
         setup=write_config("X = 1\n")),
    Case("a config file that fails on import",
         lambda p, d: ["train", "--config", d / "my_config.py", "--workdir", d / "run"], ("my_config.py", "ZeroDivision"),
         setup=write_config("X = 1 / 0\n")),
    Case("an unknown variant", lambda p, d: ["train", "--config", "context_encoder:huge", "--workdir", d / "run"],
         ("context_encoder.py", "'huge'", "tiny")),
    Case("a config file that does not exist", lambda p, d: ["train", "--config", d / "nope.py", "--workdir", d / "run"],
         ("nope.py", "does not exist")),
    Case("an override with an unknown key", lambda p, d: ce_train(p, d, "--config.los.overlap=2"),
         ("'los.overlap'", "did you mean 'loss.overlap'")),
    Case("an override of a misspelt leaf", lambda p, d: ce_train(p, d, "--config.batch_sise=2"),
         ("'batch_sise'", "did you mean 'batch_size'")),
    Case("an override of the wrong type", lambda p, d: ce_train(p, d, "--config.batch_size=abc"),
         ("batch_size", "expected an int", "'abc'")),
    Case("an override with a float for an int", lambda p, d: ce_train(p, d, "--config.num_steps=2.5"),
         ("num_steps", "expected an int")),
    Case("an override of a group", lambda p, d: ce_train(p, d, "--config.loss=3"), ("loss", "group")),
    Case("an override without a value", lambda p, d: ce_train(p, d, "--config.seed"), ("--config.seed", "no value")),
    Case("--config.batch_size=0", lambda p, d: ce_train(p, d, "--config.batch_size=0"), ("batch_size", ">= 1")),
    Case("--config.num_steps=-1", lambda p, d: ce_train(p, d, "--config.num_steps=-1"), ("num_steps", ">= 1")),
    Case("--config.loss.lambda_rec=1.5", lambda p, d: ce_train(p, d, "--config.loss.lambda_rec=1.5"),
         ("loss.lambda_rec", "[0, 1]")),
    Case("--config.optim.learning_rate=nan", lambda p, d: ce_train(p, d, "--config.optim.learning_rate=nan"),
         ("optim.learning_rate",)),
    Case("--config.data.image_size=96 for a feature size of 4",
         lambda p, d: ce_train(p, d, "--config.data.image_size=96"), ("data.image_size = 96", "model.feature_size = 4")),
    Case("resume a run with another model shape",
         lambda p, d: ["train", "--config", "context_encoder:tiny", "--workdir", p["ce"], *TINY_OVERRIDES(p),
                       "--config.model.width=8"], ("model.width", "4 in the run", "8 in the config")),
    Case("warm-start a Context Encoder from a pose run",
         lambda p, d: ["train", "--config", "context_encoder:tiny", "--workdir", d / "new", "--warm-start", p["pose"],
                       *TINY_OVERRIDES(p)], ("--warm-start", "'hourglass' run", "'context_encoder'")),
    Case("warm-start from a folder with no run",
         lambda p, d: ["train", "--config", "context_encoder:tiny", "--workdir", d / "new", "--warm-start", d,
                       *TINY_OVERRIDES(p)], ("--warm-start", "no training run there")),
    Case("evaluate with an unknown override",
         lambda p, d: ["evaluate", "--method", "context_encoder", "--workdir", p["ce"], "--data-dir", p["data"],
                       "--dataset", DATASET, "--out", d / "o", "--config.inpaint.blen=poisson"],
         ("inpaint.blen", "did you mean 'inpaint.blend'")),
    # --- data commands
    Case("data build --size 32", lambda p, d: build(p, d, "--size", "32"), ("--size", ">= 64", "got 32")),
    Case("data build --num-examples 0", lambda p, d: build(p, d, "--num-examples", "0"), ("--num-examples", "got 0")),
    Case("data build --data-dir is a file", lambda p, d: ["data", "build", "--source", "synthetic", "--data-dir", p["file"]],
         ("--data-dir", "a_file.txt", "is a file")),
    Case("data build --manual-dir missing",
         lambda p, d: ["data", "build", "--source", "lspet", "--data-dir", d / "data", "--manual-dir", d / "nowhere"],
         ("--manual-dir", "nowhere")),
    Case("data stats of a dataset that is not built",
         lambda p, d: ["data", "stats", "--source", "synthetic", "--size", "96", "--data-dir", p["data"]],
         ("synthetic_96_seed0", "not built", "--size 96")),
    Case("data export-track --out is the data dir", lambda p, d: data_cmd("export-track", p, "--out", p["data"]),
         ("--out", "--data-dir", "same path")),
    Case("data export-track --out is an existing track",
         lambda p, d: data_cmd("export-track", p, "--out", p["track"]), ("track", "already exists")),
    Case("data export-track --limit 0", lambda p, d: data_cmd("export-track", p, "--limit", "0", "--out", d / "t"),
         ("--limit", "got 0")),
    Case("data preview --count 0", lambda p, d: data_cmd("preview", p, "--count", "0", "--out", d / "p.png"),
         ("--count", "got 0")),
    Case("data preview --out inside the data dir",
         lambda p, d: data_cmd("preview", p, "--out", p["data"] / "jaxpaint" / "p.png"), ("--data-dir", "lies inside")),
    Case("data stats --out is a folder", lambda p, d: data_cmd("stats", p, "--out", d), ("--out", "is a folder")),
    # --- inpaint, score, evaluate, run, bench
    Case("inpaint --batch-size 0",
         lambda p, d: inpaint(p, "--image", p["image"], "--mask", p["mask"], "--out", d / "o", "--batch-size", "0"),
         ("--batch-size", "got 0")),
    Case("inpaint --out is an existing folder with files",
         lambda p, d: inpaint(p, "--image", p["image"], "--mask", p["mask"], "--out", p["track"]),
         ("track", "not empty")),
    Case("inpaint an image with transparent pixels",
         lambda p, d: inpaint(p, "--image", d / "t.png", "--mask", p["mask"], "--out", d / "o"),
         ("t.png", "64 transparent pixels"), setup=transparent_image),
    Case("inpaint a workdir that does not exist",
         lambda p, d: ["inpaint", "--workdir", d / "ghost", "--image", p["image"], "--mask", p["mask"], "--out", d / "o"],
         ("ghost", "does not exist")),
    Case("score --out is the submission folder",
         lambda p, d: ["score", p["track"], p["folder"], "--out", p["folder"]], ("--out", "SUBMISSION", "same path")),
    Case("score --out inside the reference",
         lambda p, d: ["score", p["track"], p["folder"], "--out", p["track"] / "Y"], ("REFERENCE", "lies inside")),
    Case("evaluate --out inside the data dir",
         lambda p, d: ["evaluate", "--method", "holes", "--workdir", d / "w", "--data-dir", p["data"],
                       "--dataset", DATASET, "--out", p["data"] / "eval"], ("--data-dir", "lies inside")),
    Case("evaluate --out is the workdir's checkpoints",
         lambda p, d: ["evaluate", "--method", "context_encoder", "--workdir", p["ce"], "--data-dir", p["data"],
                       "--dataset", DATASET, "--out", p["ce"] / "checkpoints"], ("checkpoints",)),
    Case("evaluate --batch-size -1",
         lambda p, d: ["evaluate", "--method", "holes", "--workdir", d / "w", "--data-dir", p["data"],
                       "--dataset", DATASET, "--batch-size", "-1"], ("--batch-size", "got -1")),
    Case("run --size 32", lambda p, d: ["run", "--workdir", d / "job", "--size", "32"], ("--size", "got 32")),
    Case("run --eval-limit 0", lambda p, d: ["run", "--workdir", d / "job", "--eval-limit", "0"], ("--eval-limit",)),
    Case("run with an unknown inpaint config variant",
         lambda p, d: ["run", "--workdir", d / "job", "--inpaint-config", "context_encoder:huge"], ("'huge'",)),
    Case("run --workdir is a file", lambda p, d: ["run", "--workdir", p["file"]], ("--workdir", "is a file")),
    Case("bench an unknown benchmark", lambda p, d: ["bench", "nope"], ("'nope'", "available")),
    Case("tune --workdir is a file", lambda p, d: ["tune", "--sweep", "context_encoder:tiny", "--workdir", p["file"]],
         ("--workdir", "a_file.txt", "is a file")),
    Case("tune with an unknown override",
         lambda p, d: ["tune", "--sweep", "context_encoder:tiny", "--workdir", d / "t", "--config.loss.overlab=1"],
         ("loss.overlab", "did you mean 'loss.overlap'")),
    Case("tune an unknown sweep variant", lambda p, d: ["tune", "--sweep", "context_encoder:huge", "--workdir", d / "t"],
         ("'huge'",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_cleanly(world, case, capsys, tmp_path):
    case_dir = world["root"] / "cases" / case.name.replace(" ", "_").replace("/", "_")
    case_dir.mkdir(parents=True)
    if case.setup:
        case.setup(world, case_dir)
    before = file_hashes(world["root"])
    code, out, err = run_cli(case.argv(world, case_dir), capsys)
    assert code != 0, f"exit 0 for a bad input; stdout: {out[-500:]}"
    assert "Traceback" not in err and "Traceback" not in out
    message = err.strip().splitlines()[-1] if err.strip() else ""
    for culprit in case.culprits:
        assert culprit in message, f"{culprit!r} not named in: {message}"
    after = file_hashes(world["root"])
    assert {k: after.get(k) for k in before} == before, "a file that existed before was changed or removed"
    if not case.writes:
        assert sorted(set(after) - set(before)) == [], "the refused command left new files"


def test_case_count():
    assert len(CASES) >= 30


# ---------------------------------------------------------------- the exit path, as a user sees it


def subprocess_cli(*argv, cwd):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "jaxpaint.cli", *map(str, argv)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def test_subprocess_errors_are_one_line_and_debug_shows_the_traceback(tmp_path):
    (tmp_path / "broken.py").write_text("def get_config(:\n")
    result = subprocess_cli("train", "--config", tmp_path / "broken.py", "--workdir", tmp_path / "run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "broken.py, line 1: syntax error" in result.stderr
    result = subprocess_cli("train", "--config", "context_encoder:tiny", "--workdir", tmp_path / "run",
                            "--config.log_every=0", "--debug", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr and "log_every" in result.stderr
    assert not (tmp_path / "run").exists()


def test_subprocess_train_into_pose_run_keeps_it(world, tmp_path):
    before = file_hashes(world["pose"])
    result = subprocess_cli("train", "--config", "context_encoder:tiny", "--workdir", world["pose"],
                            *TINY_OVERRIDES(world), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "'hourglass'" in result.stderr
    assert file_hashes(world["pose"]) == before


# ---------------------------------------------------------------- inputs that are fine must give right results


def test_16_bit_submission_scores_like_its_8_bit_twin(world, tmp_path, capsys):
    """A 16-bit PNG (mode I;16) is scaled to 8 bits, so it scores as the same picture in 8 bits does."""
    from jaxpaint.data.images import load_rgb

    truth = {p.name: load_rgb(p) for p in sorted((world["track"] / "Y").iterdir())}
    for name, y in truth.items():
        gray = y.mean(axis=-1).round().astype(np.uint8)
        save_png(tmp_path / "sub8" / name, np.repeat(gray[..., None], 3, axis=2))
        save_png(tmp_path / "sub16" / name, gray.astype(np.uint16) * 257)
        assert Image.open(tmp_path / "sub16" / name).mode.startswith("I")  # read back as 16 bits, not 8
    scores = {}
    for bits in ("8", "16"):
        code, out, err = run_cli(["score", world["track"], tmp_path / f"sub{bits}", "--out", tmp_path / f"s{bits}"], capsys)
        assert code == 0, err
        scores[bits] = json.loads((tmp_path / f"s{bits}" / "scores.json").read_text())["means"]
    assert scores["16"] == scores["8"]


def test_outputs_have_the_usual_permissions(world, tmp_path, capsys):
    old = os.umask(0o022)
    try:
        out = tmp_path / "out"
        code, _, err = run_cli(["inpaint", "--workdir", world["ce"], "--image", world["image"], "--mask", world["mask"],
                                "--out", out], capsys)
        assert code == 0, err
        track = tmp_path / "track"
        code, _, err = run_cli(data_cmd("export-track", world, "--limit", "2", "--out", track), capsys)
        assert code == 0, err
    finally:
        os.umask(old)
    for folder in (out, track, track / "X"):
        assert folder.stat().st_mode & 0o777 == 0o755, folder
    for path in (out / "a.png", track / "maskdata.json", track / "Y" / "000000.png"):
        assert path.stat().st_mode & 0o777 == 0o644, path
