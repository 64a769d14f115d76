"""The throughput benchmark's PyTorch reference and layer table describe the JAX models' shapes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpaint.benchmarks import train_throughput as tt
from jaxpaint.config import load_config
from jaxpaint.methods import context_encoder as ce


@pytest.fixture(scope="module")
def config_and_params():
    config = load_config("context_encoder:tiny")
    image = jax.ShapeDtypeStruct((2, 64, 64, 3), jnp.float32)
    g = jax.eval_shape(lambda x: ce.generator(config).init(jax.random.key(0), x, train=False), image)["params"]
    d = jax.eval_shape(lambda x: ce.discriminator(config).init(jax.random.key(0), x, train=False), image)["params"]
    return config, g, d


def conv_kernel_shapes(params) -> list[tuple]:
    return sorted(leaf.shape for path, leaf in jax.tree_util.tree_leaves_with_path(params)
                  if path[-1].key == "kernel" and len(leaf.shape) == 4)


def test_layer_specs_are_the_models_convolutions(config_and_params):
    config, g, d = config_and_params
    specs = tt.layer_specs(config)
    spec_shapes = sorted((4, 4, s["cin"], s["cout"]) if s["kind"] != "bottleneck" or s.get("transposed")
                         else (s["size"], s["size"], s["cin"], s["cout"]) for s in specs)
    assert spec_shapes == sorted(conv_kernel_shapes(g) + conv_kernel_shapes(d))


def test_torch_reference_has_the_jax_models_parameters(config_and_params):
    torch = pytest.importorskip("torch", reason="PyTorch (the optional `bench` extra) is not installed")
    config, g, d = config_and_params
    torch_g, torch_d = tt.torch_models(torch, config)
    for jax_params, module in ((g, torch_g), (d, torch_d)):
        count = sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(jax_params))
        assert sum(p.numel() for p in module.parameters()) == count
    image = torch.zeros(2, 3, 64, 64)
    assert tuple(torch_g(image).shape) == (2, 3, 64, 64)
    assert tuple(torch_d(image).shape) == (2,)
