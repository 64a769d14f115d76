"""The throughput benchmark's per-layer table describes the models' own layers, and its steps are the trainer's."""

from __future__ import annotations

import argparse
import importlib

import jax
import numpy as np
import pytest

from jaxpaint.benchmarks import torch_twins as tw
from jaxpaint.benchmarks import train_throughput as tt


def args_for(method: str, variant: str, **extra) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    tt.add_arguments(parser)
    args = parser.parse_args(["--method", method, "--variant", variant])
    return argparse.Namespace(**{**vars(args), **extra})


def abstract_setup(method_name: str, variant: str = "tiny"):
    """(method, module, config, batch, state): the state as shapes only (nothing compiled)."""
    method, config = tt.load_method_config(args_for(method_name, variant, batch_size=2))
    module = importlib.import_module(f"jaxpaint.methods.{method.module}")
    batch = getattr(tw, method.batch)(2, int(config.data.image_size), 0)
    state = jax.eval_shape(lambda b: module.init_state(config, jax.random.key(0), b), batch)
    return method, module, config, batch, state


def kernel_shapes(params) -> list[tuple]:
    return sorted(tuple(leaf.shape) for path, leaf in jax.tree_util.tree_leaves_with_path(params)
                  if path[-1].key == "kernel")


def call_kernel_shapes(calls) -> list[tuple]:
    """The kernel each recorded conv or dense call creates, from its module's settings and input shape."""
    shapes = []
    for call in calls:
        module, cin = call["module"], call["shape"][-1]
        if call["kind"] == "dense":
            shapes.append((cin, module.features))
        elif call["kind"] == "channelwise_dense":
            shapes.append((cin, call["shape"][1] * call["shape"][2], call["shape"][1] * call["shape"][2]))
        elif call["kind"] in ("conv", "conv_transpose"):
            shapes.append((*module.kernel_size, cin, module.features))
    return sorted(shapes)


@pytest.mark.parametrize("method_name", sorted(tt.METHODS))
def test_layer_calls_are_every_layer_of_the_trained_networks(method_name):
    """Every kernel of the networks the step trains is one recorded call (the U-Net's dilated convs included),
    and every batch norm's statistics are one recorded batch-norm call."""
    method, module, config, batch, state = abstract_setup(method_name)
    calls = tt.network_calls(method, module, config, state, batch)
    expected = [shape for part in state.params for shape in kernel_shapes(state.params[part])]
    if method_name == "unet":  # the image (3) and mask (1) heads run as one 4-channel conv
        image, mask = state.params["generator"]["image"]["kernel"].shape, state.params["generator"]["mask"]["kernel"].shape
        expected.remove(tuple(image)), expected.remove(tuple(mask))
        expected.append((*image[:3], image[3] + mask[3]))
    assert call_kernel_shapes(calls) == sorted(expected)
    norms = sum(1 for c in calls if c["kind"] == "batch_norm")
    assert norms == sum(len(jax.tree.leaves(state.model_state[p])) // 2 for p in state.model_state)
    if method_name == "unet":
        dilations = sorted({c["module"].kernel_dilation for c in calls if c["kind"] == "conv"} - {None, 1})
        assert dilations == [2, 4, 8, 16]


@pytest.mark.parametrize("method_name, variant, expected", [
    ("unet", "lspet", "g_only"), ("unet", "paper", "gan"), ("context_encoder", "paper", "gan"),
    ("dcgan", "lspet", "gan"), ("hourglass", "lspet", None)])
def test_the_timed_phase_is_the_one_training_ends_in(method_name, variant, expected):
    method, config = tt.load_method_config(args_for(method_name, variant))
    module = importlib.import_module(f"jaxpaint.methods.{method.module}")
    assert tt.step_phase(module, config, None) == expected
    if expected:
        assert tt.step_phase(module, config, "g_only") == "g_only"


def test_torch_layers_have_the_jax_layers_output_shapes_and_parameters():
    """Each recorded U-Net and Context Encoder layer rebuilt in PyTorch gives the JAX layer's output shape
    (NCHW for NHWC) and parameter count."""
    torch = pytest.importorskip("torch", reason="PyTorch (the optional `bench` extra) is not installed")
    for method_name in ("unet", "context_encoder", "hourglass"):
        method, module, config, batch, state = abstract_setup(method_name)
        for call in tt.network_calls(method, module, config, state, batch):
            layer, shape = call["module"], call["shape"]
            variables = jax.eval_shape(layer.init, jax.random.key(0), jax.ShapeDtypeStruct(shape, np.float32))
            out = jax.eval_shape(lambda v, x: layer.apply(v, x, mutable=["batch_stats"])[0]
                                 if "batch_stats" in v else layer.apply(v, x), variables,
                                 jax.ShapeDtypeStruct(shape, np.float32))
            twin, torch_shape = tt.torch_layer(torch, call["kind"], layer, shape)
            y = twin(torch.zeros(torch_shape))
            expected = (out.shape[0], out.shape[-1], *out.shape[1:-1]) if len(out.shape) == 4 else out.shape
            assert tuple(y.shape) == tuple(expected), call["name"]
            assert sum(p.numel() for p in twin.parameters()) == sum(
                int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(variables["params"])), call["name"]


def test_a_twin_with_other_parameters_is_refused():
    torch = pytest.importorskip("torch", reason="PyTorch (the optional `bench` extra) is not installed")
    method, _, config, _, state = abstract_setup("unet")
    params = {**state.params, "generator": {**state.params["generator"], "extra": np.zeros(3, np.float32)}}
    with pytest.raises(RuntimeError, match="generator has .* parameters, the JAX model's"):
        tt.checked_twin(torch, method, config, "gan", params)
