"""The shared trainer on the toy GAN: outputs of a run, restoring for inference, and the failure guards."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the toy method is imported as tests.toy_method

from jaxpaint.config import apply_overrides  # noqa: E402
from jaxpaint.errors import JaxpaintError  # noqa: E402
from jaxpaint.inference import load_inpainter  # noqa: E402
from jaxpaint.methods import get_method  # noqa: E402
from jaxpaint.engine.checkpoint import is_finite, make_manager
from jaxpaint.inference import restore_run  # noqa: E402
from jaxpaint.train.guard import TrainingGuard, TrainingStopped  # noqa: E402
from jaxpaint.train.loop import train_and_evaluate  # noqa: E402
from tests import toy_method  # noqa: E402


def toy_config(*overrides: str):
    return apply_overrides(toy_method.get_config(), overrides)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("toy_run")
    state = train_and_evaluate(toy_config(), workdir)
    return workdir, state


def read_records(workdir: Path) -> list[dict]:
    return [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]


def test_run_writes_config_metrics_curves_previews_and_checkpoints(finished_run):
    workdir, state = finished_run
    assert int(state.step) == 12
    saved = json.loads((workdir / "config.json").read_text())
    mean = saved["data"]["mean_rgb"]
    assert len(mean) == 3 and all(-1 <= x <= 1 for x in mean)
    # The mean colour is the train split's, as the loader computes it.
    from jaxpaint.data.loader import mean_color

    np.testing.assert_allclose(mean, mean_color(toy_method.examples("train")), rtol=1e-6)

    records = read_records(workdir)
    train = [r for r in records if r["split"] == "train"]
    val = [r for r in records if r["split"] == "val"]
    assert [r["step"] for r in train] == [2, 4, 6, 8, 10, 12]
    assert [r["step"] for r in val] == [6, 12]
    for r in train:
        assert set(r["metrics"]) == {"loss", "rec_loss", "adv_loss", "disc_loss", "d_real", "d_fake"}
        assert r["images_per_sec"] > 0 and all(math.isfinite(v) for v in r["metrics"].values())
    assert (workdir / "curves.png").stat().st_size > 1000
    assert sorted(p.name for p in (workdir / "previews").iterdir()) == ["step_0000006.png", "step_0000012.png"]
    manager = make_manager(workdir, max_to_keep=3, async_save=False)
    assert list(manager.all_steps()) == [4, 8, 12]
    manager.close()


def test_restore_run_gives_the_final_state_and_an_inpainter(finished_run):
    workdir, state = finished_run
    config, restored = restore_run(workdir)
    assert config.method == "tests.toy_method"
    assert int(restored.step) == 12
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(restored)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

    inpaint = load_inpainter("tests.toy_method", workdir)
    example = toy_method.examples("validation")[0]
    images = np.stack([example["image"]] * 2)
    holes = np.zeros(images.shape[:3], bool)
    holes[:, 4:10, 4:10] = True
    out = inpaint(images, holes)
    assert out.dtype == np.uint8 and out.shape == images.shape
    np.testing.assert_array_equal(out[~holes], images[~holes])  # known pixels come back exactly
    assert not np.array_equal(out[holes], images[holes])


def test_restore_run_names_a_wrong_path(tmp_path):
    missing = tmp_path / "no_such_run"
    with pytest.raises(JaxpaintError, match=str(missing)):
        restore_run(missing)
    (tmp_path / "config.json").write_text(json.dumps(toy_config().to_dict()))
    with pytest.raises(JaxpaintError, match="checkpoints"):
        restore_run(tmp_path)


def test_unknown_method_is_a_clear_error():
    with pytest.raises(JaxpaintError, match="unknown method 'nope'"):
        get_method("nope")


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    # The loss turns NaN at step index 5 (the 6th step); step 6 is a checkpoint step, logged
    # only at the end, so the engine must refuse to save the poisoned state itself.
    config = toy_config("--config.model.nan_at_step=5", "--config.checkpoint_every=2", "--config.log_every=12",
                        "--config.eval_every=0", "--config.preview_every=0")
    with pytest.raises(TrainingStopped, match="step 6 holds NaN or Inf.*Last good checkpoint: step 4"):
        train_and_evaluate(config, tmp_path)
    manager = make_manager(tmp_path, async_save=False)
    assert list(manager.all_steps()) == [2, 4]
    manager.close()
    _, state = restore_run(tmp_path)
    assert int(state.step) == 4 and is_finite(state)


def test_collapsed_discriminator_stops_the_run(tmp_path):
    # A frozen generator against a fast discriminator: disc_loss falls to ~0 while adv_loss climbs.
    # The discriminator sees composites (only the 6×6 hole is fake), so it needs ~100 steps to win.
    config = toy_config("--config.optim.gen_lr=0.0", "--config.optim.disc_lr=0.01", "--config.num_steps=400",
                        "--config.eval_every=0", "--config.preview_every=0", "--config.checkpoint_every=100",
                        "--config.log_every=4", "--config.guard.disc_loss_below=0.05",
                        "--config.guard.adv_loss_above=3.0", "--config.guard.patience=2")
    with pytest.raises(TrainingStopped, match="collapsed"):
        train_and_evaluate(config, tmp_path)
    records = read_records(tmp_path)
    assert records[-1]["step"] < 400  # stopped early
    last = records[-1]["metrics"]
    assert last["disc_loss"] < 0.05 and last["adv_loss"] > 3.0


def test_guard_counts_consecutive_collapsed_steps_and_rejects_non_finite():
    guard = TrainingGuard(disc_loss_below=0.01, adv_loss_above=5.0, patience=3)
    collapsed = {"loss": 1.0, "disc_loss": 0.001, "adv_loss": 9.0}
    healthy = {"loss": 1.0, "disc_loss": 0.5, "adv_loss": 1.0}
    guard.check(1, collapsed)
    guard.check(2, collapsed)
    guard.check(3, healthy)  # the streak restarts
    guard.check(4, collapsed)
    guard.check(5, collapsed)
    with pytest.raises(TrainingStopped, match="collapsed at step 6"):
        guard.check(6, collapsed)
    with pytest.raises(TrainingStopped, match="not finite.*loss=inf"):
        TrainingGuard().check(7, {"loss": float("inf")})
    with pytest.raises(JaxpaintError, match="unknown fields"):
        TrainingGuard.from_config(_bad_guard())


def _bad_guard():
    import ml_collections

    return ml_collections.ConfigDict({"guard": {"patience": 3, "typo_field": 1}})


def test_curves_are_redrawn_at_most_once_a_minute_before_the_last_step(tmp_path, monkeypatch):
    from jaxpaint.train import metrics_log

    clock = [1000.0]
    monkeypatch.setattr(metrics_log.time, "monotonic", lambda: clock[0])
    log = metrics_log.MetricsLog(tmp_path, truncate_after=0)
    curves = tmp_path / metrics_log.CURVES_FILE
    log.write(2, "val", {"loss": 1.0})
    log.plot(final=False)
    assert not curves.exists()  # within a minute of the session's start
    clock[0] += metrics_log.PLOT_INTERVAL_S
    log.plot(final=False)
    drawn = curves.read_bytes()
    log.write(4, "val", {"loss": 0.5})
    log.plot(final=False)
    assert curves.read_bytes() == drawn  # the minute starts again at each drawing
    log.plot(final=True)
    assert curves.read_bytes() != drawn  # the last step always redraws
