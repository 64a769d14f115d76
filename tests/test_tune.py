"""Algorithm 1: the choices against a hand-worked case, and `jaxpaint tune` end to end with resume."""

from __future__ import annotations

import json

import pytest

from jaxpaint import tuning
from jaxpaint.commands.tune import tune
from jaxpaint.config import load_config


def test_algorithm1_tunes_one_parameter_at_a_time_from_the_current_choices():
    # score = (a - 2)² + (b - 3)² + a·b: with a fixed at its best value given b = 0, then b given that a.
    calls = []

    def score(c):
        calls.append(dict(c))
        return (c["a"] - 2) ** 2 + (c["b"] - 3) ** 2 + c["a"] * c["b"]

    choices, steps = tuning.algorithm1([["a", [0, 1, 2, 3]], ["b", [0, 1, 2, 3]]], {"a": 0, "b": 0}, score)
    # Step a (b = 0): scores 13, 10, 9, 10 -> a = 2. Step b (a = 2): scores 9, 6, 5, 6 -> b = 2.
    # (A grid search would find a = 1, b = 2 with 4: Algorithm 1 is coordinate descent, not a grid.)
    assert steps[0]["scores"] == [13, 10, 9, 10] and steps[0]["chosen"] == 2
    assert steps[1]["scores"] == [9, 6, 5, 6] and steps[1]["chosen"] == 2
    assert choices == {"a": 2, "b": 2}
    assert len(calls) == 8  # one trial per value, never a grid


def test_every_sweep_spec_and_its_tiny_twin_load():
    for path in sorted(tuning.SWEEP_DIR.glob("*.py")):
        for variant in ("tiny", None):
            sweep = tuning.load_sweep(f"{path}:{variant}" if variant else str(path))
            for name, values in sweep["parameters"]:
                for value in values:  # every value is a valid override of the method's config
                    load_config(sweep["config"], [*sweep["overrides"], tuning.override(name, value)])


def test_tune_end_to_end_resumes_without_retraining(tmp_path, capsys):
    result = tune("tests/toy_sweep.py", tmp_path)
    assert result["chosen"]["optim.gen_lr"] == 0.003  # training lowers the loss below the untrained net's
    saved = json.loads((tmp_path / "tune.json").read_text())
    assert saved["chosen"] == result["chosen"] and len(saved["trials"]) == 3  # 2 + 2 values, one trial shared
    assert (tmp_path / "sweep.png").stat().st_size > 0
    capsys.readouterr()
    again = tune("tests/toy_sweep.py", tmp_path)
    assert again["chosen"] == result["chosen"] and again["trials"] == result["trials"]
    assert "training" not in capsys.readouterr().out  # every trial was read back


def test_a_sweep_value_the_config_does_not_have_is_refused_before_training(tmp_path):
    from jaxpaint.errors import JaxpaintError

    spec = tmp_path / "bad.py"
    spec.write_text('def get_sweep(variant=None):\n    return {"config": "tests/toy_config.py:tiny", "metric": "rec_loss",'
                    ' "parameters": [["model.no_such_knob", [1, 2]]]}\n')
    with pytest.raises(JaxpaintError, match="no_such_knob"):
        tune(str(spec), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_two_processes_split_each_parameters_trials_and_choose_as_one(tmp_path):
    """Under a 2-process job each trial trains once, on process (its index in the step) mod 2, and the
    choices and scores are those of the sequential sweep."""
    import subprocess
    import sys

    from tests.test_mesh import REPO, cli_env

    parallel = tmp_path / "parallel"
    command = [sys.executable, "-m", "jaxpaint.cli", "tune", "--sweep", "tests/toy_sweep.py", "--workdir", str(parallel)]
    procs = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=cli_env(JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=str(i))) for i in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    trained = {line.split(":")[0]: i for i, (out, _) in enumerate(outputs) for line in out.splitlines()
               if ": training (process" in line}
    lines = [line for out, _ in outputs for line in out.splitlines() if ": training (process" in line]
    # Step 1 (features at its start value 8): gen_lr 0.0 is trial 0 -> process 0, 0.003 is trial 1 -> process 1.
    # Step 2 (gen_lr = 0.003 chosen): features 4 is trial 0 -> process 0; features 8 is step 1's trial, read back.
    assert len(lines) == 3  # no trial trained twice
    assert trained == {"trial optim.gen_lr=0.0,model.features=8": 0, "trial optim.gen_lr=0.003,model.features=8": 1,
                       "trial optim.gen_lr=0.003,model.features=4": 0}
    sequential = tune("tests/toy_sweep.py", tmp_path / "sequential")
    saved = json.loads((parallel / "tune.json").read_text())
    assert saved["chosen"] == sequential["chosen"]
    assert saved["trials"] == pytest.approx(sequential["trials"], rel=1e-6)
    for step, expected in zip(saved["steps"], sequential["steps"]):
        assert step["chosen"] == expected["chosen"] and step["scores"] == pytest.approx(expected["scores"], rel=1e-6)


def test_a_method_without_training_is_tuned_on_its_inpainted_validation_images(tiny_dataset, tmp_path, capsys):
    """Patch synthesis: each trial inpaints the first validation images; the first guess (here the
    diffusion fill) is scored on the same images, and a second run reads every trial back."""
    import numpy as np

    from jaxpaint.data import loader
    from jaxpaint.inference import load_inpainter
    from jaxpaint.metrics.image import block_scores

    data_dir, dataset = tiny_dataset
    overrides = [f"--config.data.data_dir={data_dir}", f"--config.data.dataset={dataset}"]
    result = tune("patch_synthesis:tiny", tmp_path, overrides)
    batch = loader.batch_dataset(loader.open_split(data_dir, dataset, "validation"), 2, seed=0, shuffle=False)[0]
    guess = load_inpainter("diffusion")(batch["image"], batch["hole"])
    expected = block_scores(guess, batch["image"], batch["blocks"], batch["num_blocks"])["dssim"].mean()
    assert result["first_guess"] == pytest.approx(expected, abs=1e-6)
    assert len(result["trials"]) == 3 and all(np.isfinite(s) for s in result["trials"].values())
    # The content and TV terms alone keep the guess's structure: the result stays near the guess.
    assert abs(result["steps"][0]["scores"][0] - expected) < 0.05
    assert (tmp_path / "sweep.png").stat().st_size > 0
    capsys.readouterr()
    again = tune("patch_synthesis:tiny", tmp_path, overrides)
    assert again["trials"] == result["trials"] and "inpainting" not in capsys.readouterr().out
