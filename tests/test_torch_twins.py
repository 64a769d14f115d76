"""The PyTorch twins of the train steps (jaxpaint.benchmarks.torch_twins) match the JAX methods' parameters and run
a step."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from jaxpaint.benchmarks import torch_twins as tw
from jaxpaint.config import load_config
from jaxpaint.methods import context_encoder, pose, semantic, unet



def unet_batch(batch_size, size, seed):
    """The inpainting batch with the U-Net's input fill, which its twin reads ("filled"; any image will do here)."""
    batch = tw.inpainting_batch(batch_size, size, seed)
    return {**batch, "filled": batch["image"][:, ::-1].copy()}


# config name -> (JAX method, twin, synthetic batch, the batch's dtypes)
CASES = {
    "hourglass": (pose, tw.hourglass_twin, tw.hourglass_batch,
                  {"image": np.float32, "joints_xy": np.float32, "joints_present": np.bool_}),
    "semantic": (semantic, tw.dcgan_twin, tw.dcgan_batch, {"image": np.float32}),
    "context_encoder": (context_encoder, tw.context_encoder_twin, tw.inpainting_batch,
                        {"image": np.float32, "hole": np.bool_}),
    "content_network": (context_encoder, tw.context_encoder_twin, tw.inpainting_batch,
                        {"image": np.float32, "hole": np.bool_}),
    "unet": (unet, lambda torch, config: tw.unet_twin(torch, config, "gan"), unet_batch,
             {"image": np.float32, "hole": np.bool_, "filled": np.float32}),
}


def needs_torch():
    return pytest.importorskip("torch", reason="PyTorch (the optional `bench` extra) is not installed")


def setup(name: str, variant: str, batch_size: int = 2):
    method, twin, make_batch, _ = CASES[name]
    config = load_config(f"{name}:{variant}")
    batch = make_batch(batch_size, int(config.data.image_size), 0)
    # eval_shape: the state's structure without compiling or running the initialisation.
    state = jax.eval_shape(lambda b: method.init_state(config, jax.random.key(0), b), batch)
    return method, twin, config, batch, state


@pytest.mark.parametrize("name", CASES)
def test_synthetic_batch_is_what_the_jax_step_takes(name):
    method, _, config, batch, state = setup(name, "tiny")
    assert {k: v.dtype.type for k, v in batch.items()} == CASES[name][3]
    size = int(config.data.image_size)
    assert batch["image"].shape == (2, size, size, 3)
    assert batch["image"].min() >= -1.0 and batch["image"].max() <= 1.0
    new_state, metrics = jax.eval_shape(lambda s, b: method.train_step(config, s, b), state, batch)
    assert jax.tree.structure(new_state.params) == jax.tree.structure(state.params)
    assert metrics["loss"].shape == ()


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("variant", ["tiny", "lspet"])
def test_twin_has_the_jax_state_parameters(name, variant):
    torch = needs_torch()
    _, make_twin, config, _, state = setup(name, variant)
    twin = make_twin(torch, config)
    assert tw.torch_parameter_count(twin) == tw.jax_parameter_count(state.params)
    for part, module in twin.modules.items():  # tensor by tensor, not only in total
        jax_sizes = sorted(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(state.params[part]))
        assert sorted(p.numel() for p in module.parameters()) == jax_sizes, part


@pytest.mark.parametrize("name", CASES)
def test_twin_step_updates_every_part(name):
    torch = needs_torch()
    _, make_twin, config, batch, _ = setup(name, "tiny")
    torch.manual_seed(0)
    twin = make_twin(torch, config)
    before = {part: [p.detach().clone() for p in m.parameters()] for part, m in twin.modules.items()}
    loss = twin.step(*twin.batch(batch))
    assert isinstance(loss, float) and math.isfinite(loss)
    for part, module in twin.modules.items():
        assert any(not torch.equal(a, p) for a, p in zip(before[part], module.parameters())), part


def test_dcgan_twin_updates_batch_statistics_as_the_jax_step():
    """G's running statistics move once a step and D's twice (real, then fake), as jaxpaint.engine.gan keeps
    them; D's call inside G's objective leaves them alone."""
    torch = needs_torch()
    _, make_twin, config, batch, _ = setup("semantic", "tiny")
    twin = make_twin(torch, config)
    twin.step(*twin.batch(batch))
    for part, updates in (("generator", 1), ("discriminator", 2)):
        norms = [m for m in twin.modules[part].modules() if isinstance(m, torch.nn.BatchNorm2d)]
        assert norms and all(int(m.num_batches_tracked) == updates for m in norms), part
