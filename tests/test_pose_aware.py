"""The pose-aware options of the dilated U-Net: the frozen hourglass's pose loss (loss.pose_weight) and
the heatmap conditioning of the generator (model.pose_condition), on tiny configs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpaint import releases
from jaxpaint.cli import main
from jaxpaint.config import load_config
from jaxpaint.data.joints import NUM_TYPES
from jaxpaint.errors import JaxpaintError
from jaxpaint.methods import pose as pose_method
from jaxpaint.methods import unet as method
from jaxpaint.engine import checkpoint as ckpt
from jaxpaint.inference import restore_run
from jaxpaint.train.metrics_log import METRICS_FILE, read_metrics
from tests.run_folder import write_run
from tests.states import initial_state

pytestmark = pytest.mark.slow  # a minute or more in all: scheduled first (conftest.py)


@pytest.fixture(scope="module")
def hourglass_run(tmp_path_factory):
    """A hourglass run folder of the tiny network at depth 1 (64 px input, its initial weights with batch
    statistics perturbed so that they are not the defaults): what pose.workdir points at. Depth 1 keeps
    the programs that hold it small; the pose-aware code reads the depth from the folder's config."""
    workdir = tmp_path_factory.mktemp("hourglass_run")
    config = load_config("hourglass:tiny", ["--config.model.depth=1"])
    batch = {"image": jnp.zeros((4, 64, 64, 3), jnp.float32)}
    state = initial_state(pose_method.init_state, config, jax.random.key(3), batch)
    stats = jax.tree.map(lambda x: x + 0.05, state.model_state)
    state = state.replace(model_state=stats)
    write_run(workdir, config, batch, state)
    return workdir


def config_of(hourglass_run, pose_weight=0.0, condition=False, start=0):
    config = load_config("unet:tiny_pose", [f"--config.pose.workdir={hourglass_run}",
                                            f"--config.loss.pose_weight={pose_weight}",
                                            f"--config.model.pose_condition={condition}",
                                            f"--config.loss.pose_start_step={start}"])
    with config.unlocked():
        config.data.mean_rgb = (0.1, -0.2, 0.0)
        config.schedule.g_only_steps = 0
    return config


def tiny_batch(size=64, batch_size=4, seed=0):
    rng = np.random.default_rng(seed)
    images = np.clip(rng.normal(0, 0.4, (batch_size, size, size, 3)), -1, 1)
    hole = np.zeros((batch_size, size, size), bool)
    for i in range(batch_size):
        r, c = rng.integers(0, size // 2, 2)
        hole[i, r:r + size // 3, c:c + size // 3] = True
    return {"image": jnp.asarray(images, jnp.float32), "hole": jnp.asarray(hole)}


def first_conv_kernel(params):
    """The kernel of the generator's first conv (5×5, its input channels are the generator's input)."""
    kernels = [leaf for path, leaf in jax.tree_util.tree_leaves_with_path(params["generator"]["conv1"])
               if leaf.ndim == 4]
    assert len(kernels) == 1
    return kernels[0]


def comparable(state):
    return (state.step, state.params, state.opt_state, state.model_state, jax.random.key_data(state.key))


def test_zero_pose_weight_is_the_plain_unet_step(hourglass_run):
    """γ = 0: no hourglass loaded, no pose term, and bit for bit the plain U-Net's step even when the
    hourglass is handed to the step. The hourglass is closed over, not passed: a step that read it would
    trace it in as constants and compile a program of its own; one that ignores it is the plain program,
    compiled once. Over 20 s (about 20 s): the U-Net's GAN step compiled."""
    plain = config_of(hourglass_run)
    with plain.unlocked():
        plain.pose.workdir = ""  # the plain U-Net needs no hourglass at all
    assert method.load_frozen(plain) == {}
    hourglass = method.load_frozen(config_of(hourglass_run, pose_weight=1.0))
    batch = tiny_batch()
    state = initial_state(method.init_state, plain, jax.random.key(0), batch)
    step = jax.jit(lambda s, b, f: method.train_step(plain, s, b, f, phase="gan"))
    zero_weight = config_of(hourglass_run, pose_weight=0.0)
    weighted = jax.jit(lambda s, b: method.train_step(zero_weight, s, b, hourglass, phase="gan"))
    expected, expected_metrics = step(state, batch, {})
    got, metrics = weighted(state, batch)
    assert "pose_loss" not in metrics and "pose_loss" not in expected_metrics
    jax.tree.map(np.testing.assert_array_equal, comparable(got), comparable(expected))
    # The term itself is 0 when the composite is the real image (up to the last bits: the real image's
    # heatmaps may come from a batch of another size, which may take another vectorised path through a
    # convolution on some CPUs).
    target = method.pose_heatmaps(zero_weight, batch["image"], hourglass["hourglass"])
    same = method.pose_loss(zero_weight, batch["image"], target, hourglass["hourglass"])
    other = method.pose_loss(zero_weight, -batch["image"], target, hourglass["hourglass"])
    assert float(other) > 0.0 and float(same) <= 1e-9 * float(other)


def test_a_delayed_pose_term_runs_the_plain_program_before_its_start(hourglass_run):
    """loss.pose_start_step S: the steps before S are the plain U-Net's program (the same jaxpr, so the same
    cost), the steps from S on have the term; the heatmap inputs stay on throughout."""
    delayed = config_of(hourglass_run, pose_weight=1.0, start=3)
    assert [method.phase(delayed, s) for s in (0, 2, 3, 9)] == ["gan_before_pose"] * 2 + ["gan"] * 2
    assert method.phase(config_of(hourglass_run, start=3), 0) == "gan"  # γ = 0: nothing to delay
    batch = tiny_batch()
    hourglass = method.load_frozen(delayed)

    def jaxpr(config, phase):
        state = jax.eval_shape(lambda: method.init_state(config, jax.random.key(0), batch))  # shapes suffice
        return str(jax.make_jaxpr(lambda s, b: method.train_step(config, s, b, hourglass, phase=phase))(state, batch))

    assert jaxpr(delayed, "gan_before_pose") == jaxpr(config_of(hourglass_run), "gan")
    assert jaxpr(delayed, "gan") != jaxpr(config_of(hourglass_run), "gan")
    conditioned = config_of(hourglass_run, pose_weight=1.0, condition=True, start=3)
    assert jaxpr(conditioned, "gan_before_pose") == jaxpr(config_of(hourglass_run, condition=True), "gan")


def test_pose_gradient_reaches_only_the_holes_and_the_hourglass_stays_frozen(hourglass_run):
    """Over 20 s (about 25 s): compiles the U-Net's GAN step with and without the hourglass inside."""
    config = config_of(hourglass_run, pose_weight=1.0)
    frozen = method.load_frozen(config)
    assert set(frozen) == {"hourglass"}
    batch = tiny_batch(seed=1)
    fake = jnp.asarray(np.random.default_rng(2).uniform(-1, 1, (4, 64, 64, 4)), jnp.float32)
    target = method.pose_heatmaps(config, batch["image"], frozen["hourglass"])
    grad = jax.grad(lambda f: method.pose_loss(config, method.show(config, f, batch), target,
                                               frozen["hourglass"]))(fake)
    grad = np.asarray(grad)
    hole = np.asarray(batch["hole"])
    assert np.all(grad[~hole] == 0.0) and np.all(grad[..., 3] == 0.0)  # known pixels and the mask channel
    assert np.abs(grad[hole][:, :3]).max() > 0.0

    state = initial_state(method.init_state, config, jax.random.key(0), batch)
    before = jax.tree.map(np.array, frozen)
    step = jax.jit(lambda s, b, f: method.train_step(config, s, b, f, phase="gan"))
    current = state
    for _ in range(2):
        current, metrics = step(current, batch, frozen)
    assert float(metrics["pose_loss"]) > 0.0
    jax.tree.map(np.testing.assert_array_equal, jax.tree.map(np.asarray, frozen), before)
    reloaded = method.load_frozen(config)
    jax.tree.map(np.testing.assert_array_equal, jax.tree.map(np.asarray, reloaded), before)
    for part in (current.params, current.opt_state, current.model_state):
        assert set(part) == {"generator", "discriminator"}
    # The pose term moves the generator: the same step without it ends elsewhere.
    plain = config_of(hourglass_run)
    without, _ = jax.jit(lambda s, b: method.train_step(plain, s, b, {}, phase="gan"))(state, batch)
    with_pose, _ = step(state, batch, frozen)
    kernel_with, kernel_without = first_conv_kernel(with_pose.params), first_conv_kernel(without.params)
    assert not np.array_equal(np.asarray(kernel_with), np.asarray(kernel_without))


def test_conditioning_adds_joint_channels_and_runs_through_the_cli(hourglass_run, tiny_dataset, tmp_path):
    """Over 20 s (about 60 s): the conditioned U-Net trained, inpainting and warm-started through the CLI, each
    a program of its own with the hourglass inside."""
    config = config_of(hourglass_run, pose_weight=1.0, condition=True)
    batch = tiny_batch(seed=3)
    frozen = method.load_frozen(config)
    conditioned = method.with_pose_input(config, batch, frozen)
    inputs = method.generator_input(config, conditioned)
    assert inputs.shape == (4, 64, 64, 4 + NUM_TYPES)
    np.testing.assert_array_equal(np.asarray(inputs[..., 4:]), np.asarray(conditioned["pose_heatmaps"]))
    plain_inputs = method.generator_input(config_of(hourglass_run), batch)
    np.testing.assert_array_equal(np.asarray(inputs[..., :4]), np.asarray(plain_inputs))
    # The heatmaps are the hourglass's on the filled input, brought to the image size.
    heat = method.pose_heatmaps(config, method.filled_image(config, batch["image"], batch["hole"]),
                                frozen["hourglass"])
    assert heat.shape == (4, 16, 16, NUM_TYPES)
    np.testing.assert_allclose(np.asarray(conditioned["pose_heatmaps"]),
                               np.asarray(jax.image.resize(heat, (4, 64, 64, NUM_TYPES), "linear")), atol=1e-6)
    # The same forward pass gives the pose loss its real-image heatmaps; prediction does without them.
    np.testing.assert_allclose(np.asarray(conditioned["pose_target"]),
                               np.asarray(method.pose_heatmaps(config, batch["image"], frozen["hourglass"])), atol=1e-6)
    assert "pose_target" not in method.with_pose_input(config, batch, frozen, targets=False)

    data_dir, dataset = tiny_dataset
    workdir, out = tmp_path / "run", tmp_path / "out"
    assert main(["train", "--config", "unet:tiny_pose", "--workdir", str(workdir),
                 f"--config.pose.workdir={hourglass_run}", f"--config.data.data_dir={data_dir}",
                 f"--config.data.dataset={dataset}", "--config.num_steps=2", "--config.eval_every=2",
                 "--config.checkpoint_every=2", "--config.preview_every=2"]) == 0
    saved, state = restore_run(workdir)
    assert saved.model.pose_condition and saved.loss.pose_weight == 1.0
    assert first_conv_kernel(state.params).shape[2] == 4 + NUM_TYPES
    assert not any("hourglass" in jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_leaves_with_path(state))
    assert main(["inpaint", "--workdir", str(workdir), "--data-dir", data_dir, "--dataset", dataset,
                 "--split", "test", "--limit", "3", "--out", str(out)]) == 0
    assert len(list(out.glob("test_*.png"))) == 3
    # A new run warm-started from this one goes on from its step.
    warm = tmp_path / "warm"
    assert main(["train", "--config", "unet:tiny_pose", "--workdir", str(warm), "--warm-start", str(workdir),
                 f"--config.pose.workdir={hourglass_run}", f"--config.data.data_dir={data_dir}",
                 f"--config.data.dataset={dataset}", "--config.num_steps=3", "--config.eval_every=3",
                 "--config.checkpoint_every=3", "--config.preview_every=3", "--config.loss.pose_start_step=3"]) == 0
    assert int(restore_run(warm)[1].step) == 3
    # Its one step came before the pose term's start (step 3): the plain step's metrics, no pose term.
    first_logs, warm_logs = ([r for r in read_metrics(w / METRICS_FILE) if r["split"] == "train"] for w in (workdir, warm))
    assert "pose_loss" in first_logs[-1]["metrics"] and "pose_loss" not in warm_logs[-1]["metrics"]

    # At inference the heatmaps reach the generator: another hourglass gives other holes, the same known pixels.
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    holes = np.asarray(tiny_batch(seed=5)["hole"])
    first = method.make_inpainter(saved, state)(images, holes)
    other = jax.tree.map(lambda x: x * 1.5, frozen)
    second = method.make_inpainter(saved, state, other)(images, holes)
    np.testing.assert_array_equal(first[~holes], images[~holes])
    np.testing.assert_array_equal(second[~holes], images[~holes])
    assert np.any(first[holes] != second[holes])


def test_warm_start_gives_the_plain_generator_heatmap_channels_that_start_at_zero(hourglass_run):
    """`ckpt.transplant` of a plain U-Net state into a conditioned one: the step, the optimiser state and
    every weight carry over, the 12 new input rows of the first kernel are zero, so the conditioned
    generator predicts what the plain one did."""
    plain, conditioned = config_of(hourglass_run), config_of(hourglass_run, condition=True)
    batch = tiny_batch(seed=6)
    source = initial_state(method.init_state, plain, jax.random.key(0), batch)
    source, _ = jax.jit(lambda s, b: method.train_step(plain, s, b, {}, phase="gan"))(source, batch)
    moved = ckpt.transplant(source, initial_state(method.init_state, conditioned, jax.random.key(1), batch))
    assert int(moved.step) == 1
    kernel, old_kernel = np.asarray(first_conv_kernel(moved.params)), np.asarray(first_conv_kernel(source.params))
    assert kernel.shape[2] == 4 + NUM_TYPES
    np.testing.assert_array_equal(kernel[:, :, :4], old_kernel)
    assert np.all(kernel[:, :, 4:] == 0.0)
    discriminator = lambda state: jax.tree.leaves(state.params["discriminator"])
    jax.tree.map(np.testing.assert_array_equal, discriminator(moved), discriminator(source))
    frozen = method.load_frozen(conditioned)
    np.testing.assert_allclose(np.asarray(method.predict(conditioned, moved, batch, frozen)),
                               np.asarray(method.predict(plain, source, batch, {})), atol=1e-5)
    # The other way round would drop channels: refused, naming the leaf.
    with pytest.raises(JaxpaintError, match="warm start: .*conv1"):
        ckpt.transplant(moved, source)


def test_missing_pose_workdir_is_one_clear_error(hourglass_run, tiny_dataset, tmp_path, capsys):
    unset = config_of(hourglass_run, pose_weight=0.5)
    with unset.unlocked():
        unset.pose.workdir = ""
    with pytest.raises(JaxpaintError, match="pose.workdir is not set"):
        method.load_frozen(unset)
    absent = config_of(tmp_path / "absent", condition=True)
    with pytest.raises(JaxpaintError, match="pose.workdir .*absent is neither a released model .* nor the folder"):
        method.load_frozen(absent)
    # A released pose evaluator's name stands for its folder; a released inpainter is no pose network.
    assert method.pose_workdir(config_of("hourglass-lspet-v1", pose_weight=0.5)) == releases.folder("hourglass-lspet-v1")
    with pytest.raises(JaxpaintError, match="pose.workdir: .*unet-lspet-v1: a run of method 'unet', not a hourglass"):
        method.pose_workdir(config_of("unet-lspet-v1", pose_weight=0.5))
    data_dir, dataset = tiny_dataset
    workdir = tmp_path / "run"
    assert main(["train", "--config", "unet:tiny_pose", "--workdir", str(workdir),
                 f"--config.pose.workdir={tmp_path / 'absent'}", f"--config.data.data_dir={data_dir}",
                 f"--config.data.dataset={dataset}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pose.workdir" in err[0] and "nor the folder of a training run" in err[0]
    assert not workdir.exists()  # refused before the first file
