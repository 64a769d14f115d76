"""The content network (Context Encoder with ELUs and a plain FC bottleneck) and patch synthesis built on its run."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxpaint.cli import main
from jaxpaint.config import load_config
from jaxpaint.data.images import load_rgb, save_png_atomic
from jaxpaint.errors import JaxpaintError
from jaxpaint.methods import context_encoder as ce
from tests.run_folder import write_run
from tests.states import initial_state


def param_shapes(config, size):
    image = jax.ShapeDtypeStruct((2, size, size, 3), jnp.float32)
    return jax.eval_shape(lambda x: ce.generator(config).init(jax.random.key(0), x, train=False), image)


def count(tree) -> int:
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(tree))


def test_paper_content_network_has_a_plain_fc_bottleneck():
    config = load_config("content_network:paper")
    assert config.method == "context_encoder" and config.data.image_size == 128
    assert (config.model.activation, config.model.bottleneck_layer) == ("elu", "fc")
    params = param_shapes(config, 128)["params"]
    # 128 px -> 4×4×512 (m = 512, n = 4): one dense layer from 4·4·512 = 8192 inputs to the 4000-long vector.
    assert params["bottleneck_fc"]["kernel"].shape == (8192, 4000)
    assert "channelwise_fc" not in params and "bottleneck_conv" not in params
    out = jax.eval_shape(lambda v, x: ce.generator(config).apply(v, x, train=False), param_shapes(config, 128),
                         jax.ShapeDtypeStruct((2, 128, 128, 3), jnp.float32))
    assert out.shape == (2, 128, 128, 3)


def test_fc_bottleneck_parameter_count_by_hand():
    # tiny: 64 px, width 4 -> stages 4-8-16-32, so m = 32 maps of n×n = 4×4; bottleneck b = 16.
    config = load_config("content_network:tiny")
    pathak = load_config("context_encoder:tiny")
    fc, channelwise = param_shapes(config, 64)["params"], param_shapes(pathak, 64)["params"]
    m, n, b = 32, 4, 16
    assert count(fc["bottleneck_fc"]) == n * n * m * b == 8192
    # Pathak's layers instead: the channel-wise kernel m·n⁴ and bias n²·m, then the n×n conv with n²·m·b weights.
    assert count(channelwise["channelwise_fc"]) == m * n**4 + n * n * m
    assert count(channelwise["bottleneck_conv"]) == n * n * m * b
    assert count(channelwise) - count(fc) == m * n**4 + n * n * m  # everything else is shared


def test_elu_changes_the_function_not_the_parameters():
    config = load_config("context_encoder:tiny")
    x = jax.random.uniform(jax.random.key(1), (2, 64, 64, 3), minval=-1, maxval=1)
    elu_config = load_config("context_encoder:tiny", ["--config.model.activation=elu"])

    @jax.jit  # one compilation, not one per eager op
    def both(x):
        variables = ce.generator(config).init(jax.random.key(0), x, train=False)
        leaky = ce.generator(config).apply(variables, x, train=False)
        elu = ce.generator(elu_config).apply(variables, x, train=False)  # same tree: the activation has no parameters
        return leaky, elu

    leaky, elu = both(x)
    assert leaky.shape == elu.shape == x.shape
    # Freshly initialised (N(0, 0.02) weights, BN at its initial running averages) the outputs are ~1e-9: compare
    # relative to their size. ELU(x) ≈ x for small x, where LeakyReLU gives 0.2·x below zero and ReLU 0.
    assert float(jnp.max(jnp.abs(leaky - elu))) > 0.1 * float(jnp.max(jnp.abs(leaky)))


def test_unknown_options_are_named():
    for key, value in (("activation", "gelu"), ("bottleneck_layer", "conv")):
        config = load_config("content_network:tiny", [f"--config.model.{key}={value}"])
        with pytest.raises(JaxpaintError, match=f"model.{key} is '{value}'"):
            ce.generator(config)


def tiny_batch():
    yy, xx = np.mgrid[0:64, 0:64] / 63.0
    base = np.stack([yy, xx, 0.5 * (yy + xx)], -1) * 2 - 1  # smooth gradients: learnable from context
    images = np.stack([base * s for s in (1.0, -1.0, 0.5, -0.5)]).astype(np.float32)
    hole = np.zeros((4, 64, 64), bool)
    hole[:, 20:32, 24:36] = True
    return {"image": jnp.asarray(images), "hole": jnp.asarray(hole)}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A content_network:tiny run folder after a few GAN-engine steps, and the losses of those steps."""
    config = load_config("content_network:tiny")
    config.data.mean_rgb = (0.1, -0.2, 0.3)
    batch = tiny_batch()
    state = initial_state(ce.init_state, config, jax.random.key(0), batch)
    step = jax.jit(lambda s, b: ce.train_step(config, s, b))
    losses = []
    for _ in range(8):
        state, metrics = step(state, batch)
        losses.append({k: float(v) for k, v in metrics.items()})
    workdir = tmp_path_factory.mktemp("content_run")
    write_run(workdir, config, batch, state)
    return workdir, losses


def test_trains_on_the_gan_engine(trained_run):
    _, losses = trained_run
    assert set(losses[0]) == {"loss", "rec_loss", "adv_loss", "disc_loss", "d_real", "d_fake"}  # both nets run
    assert all(np.isfinite(v) for step in losses for v in step.values())
    assert losses[-1]["rec_loss"] < 0.5 * losses[0]["rec_loss"]


def test_patch_synthesis_on_the_content_network_from_the_cli(trained_run, tmp_path):
    from jaxpaint.inference import load_inpainter

    workdir, _ = trained_run
    image = np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    hole = np.zeros((64, 64), bool)
    hole[16:36, 24:44] = True
    save_png_atomic(tmp_path / "a.png", image)
    save_png_atomic(tmp_path / "m.png", hole.astype(np.uint8) * 255)
    grid = tmp_path / "grid.png"
    code = main(["inpaint", "--method", "patch_synthesis", "--image", str(tmp_path / "a.png"), "--mask",
                 str(tmp_path / "m.png"), "--out", str(tmp_path / "out"), "--compare-content", str(grid),
                 f"--config.content_workdir={workdir}", "--config.levels=1", "--config.iterations=3",
                 "--config.progress=false"])
    assert code == 0
    result = load_rgb(tmp_path / "out" / "a.png")
    np.testing.assert_array_equal(result[~hole], image[~hole])

    # The first guess is the trained content network (the run's method), composited.
    content = load_inpainter("context_encoder", workdir)(image[None], hole[None])[0]
    content = np.where(hole[..., None], content, image)
    assert np.any(result[hole] != content[hole])  # the texture optimisation moved it

    # One row: masked input | content only | full method | original, 64 px cells under a label strip.
    from jaxpaint.report.grids import LABEL_HEIGHT

    picture = np.asarray(Image.open(grid).convert("RGB"))
    pad = 2
    assert picture.shape == (LABEL_HEIGHT + 64 + 2 * pad, 4 * (64 + pad) + pad, 3)
    cell = lambda column: picture[LABEL_HEIGHT + pad: LABEL_HEIGHT + pad + 64,
                                  pad + column * (64 + pad): pad + column * (64 + pad) + 64]
    np.testing.assert_array_equal(cell(1), content)
    np.testing.assert_array_equal(cell(2), result)
    np.testing.assert_array_equal(cell(3), image)


def test_compare_content_needs_a_refining_method(trained_run, tmp_path):
    workdir, _ = trained_run
    save_png_atomic(tmp_path / "a.png", np.zeros((64, 64, 3), np.uint8))
    save_png_atomic(tmp_path / "m.png", np.full((64, 64), 255, np.uint8))
    with pytest.raises(JaxpaintError, match="--compare-content: method 'context_encoder'"):
        main(["--debug", "inpaint", "--workdir", str(workdir), "--image", str(tmp_path / "a.png"), "--mask",
              str(tmp_path / "m.png"), "--out", str(tmp_path / "out"), "--compare-content", str(tmp_path / "g.png")])
