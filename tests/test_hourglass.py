"""The Stacked Hourglass network: shapes, structure, intermediate supervision, BatchNorm state."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpaint.data.joints import NUM_TYPES
from jaxpaint.models.hourglass import Residual, StackedHourglass


def _init(model, size: int, batch: int = 2):
    return jax.eval_shape(lambda k: model.init(k, jnp.zeros((batch, size, size, 3)), train=False), jax.random.PRNGKey(0))


def test_every_stack_gives_one_heatmap_per_joint_type_at_a_quarter_resolution():
    model = StackedHourglass(num_stacks=3, features=16, depth=3)
    variables = _init(model, 64)
    out = jax.eval_shape(lambda v: model.apply(v, jnp.zeros((2, 64, 64, 3))), variables)
    assert out.shape == (3, 2, 16, 16, NUM_TYPES)
    assert set(variables) == {"params", "batch_stats"}
    hourglasses = [name for name in variables["params"] if name.startswith("Hourglass")]
    assert len(hourglasses) == 3
    # Depth 3: each hourglass nests two more.
    inner = variables["params"]["Hourglass_0"]["Hourglass_0"]
    assert "Hourglass_0" in inner and "Hourglass_0" not in inner["Hourglass_0"]


def test_input_size_must_divide_by_the_total_downsampling():
    model = StackedHourglass(num_stacks=1, features=8, depth=3)  # 4 · 2**3 = 32
    with pytest.raises(ValueError, match="multiple of 32"):
        _init(model, 48)


def test_residual_projects_the_skip_only_when_widths_differ():
    x = jnp.zeros((1, 8, 8, 6))
    same = jax.eval_shape(lambda k: Residual(6).init(k, x, train=False), jax.random.PRNGKey(0))["params"]
    wider = jax.eval_shape(lambda k: Residual(12).init(k, x, train=False), jax.random.PRNGKey(0))["params"]
    convs = lambda p: sorted(n for n in p if n.startswith("Conv"))
    assert convs(same) == ["Conv_0", "Conv_1", "Conv_2"]
    assert convs(wider) == ["Conv_0", "Conv_1", "Conv_2", "Conv_3"]
    assert wider["Conv_3"]["kernel"].shape == (1, 1, 6, 12)
    assert wider["Conv_1"]["kernel"].shape == (3, 3, 6, 6)


def test_first_stack_heatmaps_feed_the_second_stack_and_training_updates_batch_stats():
    model = StackedHourglass(num_stacks=2, features=8, depth=1)
    images = jax.random.normal(jax.random.PRNGKey(1), (2, 16, 16, 3))
    variables = jax.jit(lambda x: model.init(jax.random.PRNGKey(0), x, train=False))(images)
    first_head = "Conv_2"  # stem conv, then stack 0's 1×1 feature conv, then its heatmap head

    assert variables["params"][first_head]["kernel"].shape[-1] == NUM_TYPES

    def last_stack_output(head_kernel):
        params = dict(variables["params"])
        params[first_head] = {**params[first_head], "kernel": head_kernel}
        heatmaps, _ = model.apply({**variables, "params": params}, images, train=True, mutable=["batch_stats"])
        return jnp.sum(heatmaps[-1] ** 2)

    grad = jax.jit(jax.grad(last_stack_output))(variables["params"][first_head]["kernel"])
    assert float(jnp.abs(grad).sum()) > 0  # the remapped heatmaps are added into stack 2's input

    _, updates = jax.jit(lambda v: model.apply(v, images, train=True, mutable=["batch_stats"]))(variables)
    before = jax.tree.leaves(variables["batch_stats"])
    after = jax.tree.leaves(updates["batch_stats"])
    assert any(not np.allclose(a, b) for a, b in zip(before, after))
