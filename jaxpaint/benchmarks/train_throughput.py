"""Training throughput of every method: images/s of one jitted train step, against a PyTorch twin.

`--method` picks the model (context_encoder, content_network, unet, dcgan, hourglass)
and `--variant` its config (a variant of the method's config file, or CONFIG:VARIANT).
Figures: images/s after warm-up, the step's FLOPs from XLA's cost analysis, the
achieved FLOP/s, and, measured in the same run on the same device, the FLOP/s of a
dense float32 matmul as the ceiling to compare with. The batch is synthetic (random
pixels, block holes, joints), so the data pipeline is not part of the figure.

When PyTorch is installed (the `bench` extra), the same run times the method's twin
(jaxpaint.benchmarks.torch_twins: the same layers, parameter counts, checked here, and
step structure) in rounds alternating with the JAX step, so that load from other
processes hits both alike; the figure is the ratio of the medians. The U-Net's harmonic
input fill runs inside its JAX step, as training runs it (`--fill step`), or is computed
once beforehand (`--fill given`); the twin is always given it.

`--per-layer` adds a table of forward + gradient time for every convolution, dense and
batch-norm layer the networks call, at the shapes the step gives them: the layer as the
model builds it (jaxpaint.models.layers' fast forms where it uses them), flax.linen's
own layer, and PyTorch's.

    jaxpaint bench train_throughput [-- --method unet --variant lspet --steps 3 --rounds 3 --per-layer]
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import statistics
import time

import numpy as np

from jaxpaint.benchmarks import format_machine, machine_info
from jaxpaint.benchmarks import torch_twins as twins


@dataclasses.dataclass(frozen=True)
class Method:
    config: str  # the config file under experiments/configs
    variant: str  # its default variant here
    module: str  # the jaxpaint.methods module with init_state and train_step
    batch: str  # the torch_twins function making its synthetic host batch
    twin: str  # the torch_twins function making its PyTorch twin


METHODS = {
    "context_encoder": Method("context_encoder", "paper", "context_encoder", "inpainting_batch", "context_encoder_twin"),
    "content_network": Method("content_network", "lspet", "context_encoder", "inpainting_batch", "context_encoder_twin"),
    "unet": Method("unet", "lspet", "unet", "inpainting_batch", "unet_twin"),
    "dcgan": Method("semantic", "lspet", "semantic", "dcgan_batch", "dcgan_twin"),
    "hourglass": Method("hourglass", "lspet", "pose", "hourglass_batch", "hourglass_twin"),
}


def add_arguments(parser) -> None:
    parser.add_argument("--method", default="context_encoder", choices=sorted(METHODS))
    parser.add_argument("--variant", help="a variant of the method's config file (its lspet, or paper for the "
                        "context_encoder, by default), or CONFIG:VARIANT of another config of the method")
    parser.add_argument("--batch-size", type=int, help="images a step (default: the config's)")
    parser.add_argument("--phase", choices=("g_only", "gan"), help="GAN methods: the phase to time (default: the "
                        "phase the config's training ends in)")
    parser.add_argument("--fill", choices=("step", "given"), default="step",
                        help="unet: the harmonic input fill inside the JAX step (as training runs it) or given")
    parser.add_argument("--steps", type=int, default=3, help="timed steps a round, after one warm-up step")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds, alternating JAX and PyTorch")
    parser.add_argument("--per-layer", action="store_true", help="also time each layer's forward+gradient")
    parser.add_argument("--matmul-size", type=int, default=2048, help="side of the square matmul for the ceiling")
    parser.add_argument("--seed", type=int, default=0)


def step_flops(compiled) -> float:
    """FLOPs of one call from XLA's cost analysis (a dict, or a list of one dict in older jax)."""
    analysis = compiled.cost_analysis()
    if isinstance(analysis, (list, tuple)):
        analysis = analysis[0]
    return float(analysis.get("flops", float("nan")))


def time_calls(fn, args, repeats: int) -> float:
    """Seconds per call, blocking on the result of each."""
    import jax

    start = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(fn(*args))
    return (time.perf_counter() - start) / repeats


def matmul_ceiling(n: int, repeats: int = 5) -> dict:
    """FLOP/s of an n×n float32 matmul on the default device (2n³ FLOPs a call)."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(2), (n, n), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    jax.block_until_ready(matmul(a, b))
    seconds = time_calls(matmul, (a, b), repeats)
    return {"matmul_size": n, "matmul_seconds": seconds, "matmul_flops_per_s": 2.0 * n**3 / seconds}


def import_torch():
    """torch, or None when the optional `bench` extra is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch


# ---------------------------------------------------------------------------------------------
# The step under test


def load_method_config(args):
    """(Method, config) for --method and --variant, with --batch-size applied."""
    from jaxpaint.config import load_config

    method = METHODS[args.method]
    variant = args.variant or method.variant
    config = load_config(variant if ":" in variant else f"{method.config}:{variant}")
    if args.batch_size:
        config.batch_size = args.batch_size
    return method, config


def step_phase(module, config, requested: str | None) -> str | None:
    """GAN methods: the requested phase, else the one training ends in ("gan" unless the adversarial term is
    statically off, as in unet:lspet); None for the others."""
    if not hasattr(module, "phase"):
        return None
    from jaxpaint.engine import gan

    return requested or ("gan" if gan.adversarial_possible(module.SPEC, config) else "g_only")


def host_batch(method: Method, module, config, seed: int) -> dict[str, np.ndarray]:
    """The synthetic batch; for the U-Net also its input fill ("filled"), which its twin always reads."""
    import jax

    batch = getattr(twins, method.batch)(int(config.batch_size), int(config.data.image_size), seed)
    if hasattr(module, "filled_image"):
        batch["filled"] = np.asarray(jax.jit(lambda i, h: module.filled_image(config, i, h))(batch["image"], batch["hole"]))
    return batch


def jax_step(module, config, phase: str | None):
    """The method's train step, jitted as the trainer jits it (the state donated)."""
    import jax

    frozen = module.load_frozen(config) if hasattr(module, "load_frozen") else None
    kwargs = ({"phase": phase} if phase else {}) | ({"frozen": frozen} if frozen is not None else {})
    return jax.jit(lambda state, batch: module.train_step(config, state, batch, **kwargs), donate_argnums=0)


def checked_twin(torch, method: Method, config, phase: str | None, jax_params):
    """The PyTorch twin, after checking that each of its networks has its JAX part's parameter count."""
    make = getattr(twins, method.twin)
    twin = make(torch, config, phase) if phase else make(torch, config)
    jax_counts, torch_counts = twins.jax_parameter_count(jax_params), twins.torch_parameter_count(twin)
    for part, count in torch_counts.items():
        if jax_counts.get(part) != count:
            raise RuntimeError(f"the PyTorch twin's {part} has {count} parameters, the JAX model's "
                               f"{jax_counts.get(part)}; they must be equal for the comparison to hold")
    return twin, torch_counts


# ---------------------------------------------------------------------------------------------
# Per-layer table


def layer_calls(net, variables, inputs, **kwargs) -> list[dict]:
    """Every conv, transposed conv, dense and batch-norm call of `net.apply(variables, inputs, **kwargs)`, with
    its module (unbound) and input shape, in call order; traced for shapes only."""
    import flax.linen as nn
    import jax

    from jaxpaint.models import layers
    from jaxpaint.models.context_encoder import ChannelwiseDense
    from jaxpaint.models.unet import HeadParams

    kinds = ((ChannelwiseDense, "channelwise_dense"), (nn.ConvTranspose, "conv_transpose"), (layers.ConvTranspose, "conv_transpose"), (nn.Conv, "conv"),
             (layers.Conv, "conv"), (nn.Dense, "dense"), (nn.BatchNorm, "batch_norm"))
    calls, heads = [], []

    def record(next_fun, call_args, call_kwargs, context):
        kind = next((k for t, k in kinds if isinstance(context.module, t)), None)
        if kind and context.method_name == "__call__":
            calls.append({"name": "/".join(context.module.scope.path), "kind": kind, "shape": call_args[0].shape,
                          "module": context.module.clone(parent=None, name=None)})
        if isinstance(context.module, HeadParams):
            heads.append((context.module.features, call_args[0]))
        return next_fun(*call_args, **call_kwargs)

    with nn.intercept_methods(record):
        jax.eval_shape(lambda v, x: net.apply(v, x, **kwargs), variables, inputs)
    if heads:  # the U-Net's output heads run as one SAME 3×3 conv at the input's resolution
        features, in_features = sum(f for f, _ in heads), heads[0][1]
        calls.append({"name": "heads (image+mask)", "kind": "conv", "shape": (*inputs.shape[:3], in_features),
                      "module": nn.Conv(features, (3, 3), padding="SAME")})
    return calls


def network_calls(method: Method, module, config, state, batch, phase: str | None = None) -> list[dict]:
    """layer_calls of each network the step trains (no discriminator in the "g_only" phase), in training
    mode, named by part."""
    import jax

    if method.module == "pose":
        nets = [("hourglass", module.network(config), module.model_inputs(config, batch)[0])]
    else:
        spec = module.SPEC
        inputs = spec.generator_input(config, batch, jax.random.key(0))
        nets = [("generator", spec.generator(config), inputs)]
        if phase != "g_only":
            nets.append(("discriminator", spec.discriminator(config), batch["image"]))
    calls = []
    for part, net, inputs in nets:
        if net is None or part not in state.params:
            continue
        variables = {"params": state.params[part], "batch_stats": state.model_state.get(part, {})}
        for call in layer_calls(net, variables, inputs, train=True, **({"mutable": ["batch_stats"]} if variables["batch_stats"] else {})):
            calls.append({**call, "name": f"{part}/{call['name']}"})
    return calls


def flax_reference(layer):
    """flax.linen's own layer for a jaxpaint.models.layers form (same attributes); the layer itself otherwise."""
    import flax.linen as nn

    from jaxpaint.models import layers

    for fast, reference in ((layers.Conv, nn.Conv), (layers.ConvTranspose, nn.ConvTranspose)):
        if type(layer) is fast:
            fields = {f.name for f in dataclasses.fields(reference)} - {"parent", "name"}
            return reference(**{k: getattr(layer, k) for k in fields if hasattr(layer, k)})
    return layer


def time_jax_layer(layer, shape, repeats: int) -> float:
    """Seconds of one jitted forward + gradient (w.r.t. input and params) of a flax layer, best of `repeats`."""
    import jax
    import jax.numpy as jnp

    x = jax.random.normal(jax.random.key(0), shape, jnp.float32)
    variables = layer.init(jax.random.key(1), x)
    params, rest = variables["params"], {k: v for k, v in variables.items() if k != "params"}
    mutable = list(rest)

    def forward(p, x):
        out = layer.apply({"params": p, **rest}, x, mutable=mutable) if mutable else layer.apply({"params": p}, x)
        return out[0] if mutable else out

    cotangent = jax.random.normal(jax.random.key(2), jax.eval_shape(forward, params, x).shape)

    def forward_and_grad(p, x, cotangent):  # the cotangent is an argument, not a constant to fold
        y, pull = jax.vjp(forward, p, x)
        return y, pull(cotangent)

    fn = jax.jit(forward_and_grad)
    jax.block_until_ready(fn(params, x, cotangent))
    return min(time_calls(fn, (params, x, cotangent), 1) for _ in range(repeats))


def torch_layer(torch, kind: str, layer, shape):
    """(torch module, NCHW input shape) of the same layer: same channels, kernel, stride, dilation, bias."""
    nn = torch.nn
    cin = shape[-1]
    if kind == "dense":
        return nn.Linear(cin, layer.features, bias=layer.use_bias), tuple(shape)
    nchw = (shape[0], cin, *shape[1:-1])
    if kind == "channelwise_dense":
        return twins.channelwise_dense(torch, cin, shape[1] * shape[2]), nchw
    if kind == "batch_norm":
        return (nn.BatchNorm2d(cin) if len(shape) == 4 else nn.BatchNorm1d(cin)), (nchw if len(shape) == 4 else tuple(shape))
    k = tuple(layer.kernel_size)
    s = layer.strides if isinstance(layer.strides, (tuple, list)) else (layer.strides or 1,) * 2
    if kind == "conv_transpose":
        # SAME doubles the side (padding (k - s) / 2); VALID from 1×1 grows it to k (padding 0).
        pad = 0 if layer.padding == "VALID" else (k[0] - s[0]) // 2
        return nn.ConvTranspose2d(cin, layer.features, k, s, pad, bias=layer.use_bias), nchw
    dilation = getattr(layer, "kernel_dilation", None) or 1
    dilation = dilation[0] if isinstance(dilation, (tuple, list)) else dilation
    if layer.padding == "VALID":
        pad = 0
    elif isinstance(layer.padding, str):
        pad = dilation * (k[0] - 1) // 2
    else:
        pad = layer.padding[0] if isinstance(layer.padding[0], int) else layer.padding[0][0]
    return nn.Conv2d(cin, layer.features, k, s, pad, dilation=dilation, bias=layer.use_bias), nchw


def time_torch_layer(torch, kind: str, layer, shape, repeats: int) -> float:
    module, torch_shape = torch_layer(torch, kind, layer, shape)
    x = torch.randn(*torch_shape, requires_grad=True)

    def call():
        module.zero_grad()
        x.grad = None
        y = module(x)
        y.backward(torch.ones_like(y))

    call()
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        timings.append(time.perf_counter() - start)
    return min(timings)


def describe(kind: str, layer, shape) -> str:
    if kind in ("batch_norm", "dense", "channelwise_dense"):
        return f"{shape[-1]}" + (f"->{layer.features}" if kind == "dense" else "") + f" {tuple(shape[1:-1])}"
    k = "x".join(str(i) for i in layer.kernel_size)
    strides = layer.strides if isinstance(layer.strides, (tuple, list)) else (layer.strides or 1,)
    dilation = getattr(layer, "kernel_dilation", None) or 1
    dilation = dilation[0] if isinstance(dilation, (tuple, list)) else dilation
    extra = (f"/s{strides[0]}" if strides[0] != 1 else "") + (f" d{dilation}" if dilation != 1 else "")
    return f"{k}{extra} {shape[-1]}->{layer.features} @{shape[1]}"


def per_layer_table(calls: list[dict], torch, repeats: int = 3) -> list[dict]:
    """Forward + gradient seconds of each layer call: as the model builds it, flax.linen's, PyTorch's."""
    rows, timed = [], {}
    for call in calls:
        key = (repr(call["module"]), tuple(call["shape"]))
        if key not in timed:  # layers of one shape and setting are timed once
            reference = flax_reference(call["module"])
            model_s = time_jax_layer(call["module"], call["shape"], repeats)
            flax_s = model_s if reference is call["module"] else time_jax_layer(reference, call["shape"], repeats)
            torch_s = time_torch_layer(torch, call["kind"], call["module"], call["shape"], repeats) if torch else None
            timed[key] = (model_s, flax_s, torch_s)
        model_s, flax_s, torch_s = timed[key]
        row = {"layer": call["name"], "kind": call["kind"], "shape": describe(call["kind"], call["module"], call["shape"]),
               "jax_s": model_s, "flax_s": flax_s, "torch_s": torch_s}
        rows.append(row)
        ratio = f"   torch {torch_s * 1e3:7.2f} ms   jax/torch {model_s / torch_s:5.2f}" if torch else ""
        print(f"  {row['layer'][:44]:<44} {row['shape']:<24} jax {model_s * 1e3:7.2f} ms   flax {flax_s * 1e3:7.2f} ms{ratio}",
              flush=True)
    print("  totals by kind (ms, forward + gradient):")
    for kind in ("conv", "conv_transpose", "dense", "channelwise_dense", "batch_norm"):
        picked = [r for r in rows if r["kind"] == kind]
        if picked:
            jax_s, flax_s = sum(r["jax_s"] for r in picked), sum(r["flax_s"] for r in picked)
            torch_s = f"{sum(r['torch_s'] for r in picked) * 1e3:8.1f}" if torch else "     n/a"
            print(f"  {kind:<15} {len(picked):3d} calls   jax {jax_s * 1e3:8.1f}   flax {flax_s * 1e3:8.1f}   torch {torch_s}")
    return rows


# ---------------------------------------------------------------------------------------------


def alternate(jax_call, torch_call, rounds: int, steps: int) -> tuple[list[float], list[float]]:
    """Seconds per step of each round, JAX then PyTorch in turn (PyTorch skipped when torch_call is None)."""
    jax_rounds, torch_rounds = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        jax_call(steps)
        jax_rounds.append((time.perf_counter() - start) / steps)
        if torch_call is not None:
            start = time.perf_counter()
            for _ in range(steps):
                torch_call()
            torch_rounds.append((time.perf_counter() - start) / steps)
    return jax_rounds, torch_rounds


def run(args) -> dict:
    import jax

    method, config = load_method_config(args)
    module = importlib.import_module(f"jaxpaint.methods.{method.module}")
    phase = step_phase(module, config, args.phase)
    fill_given = args.fill == "given"
    batch_size, size = int(config.batch_size), int(config.data.image_size)
    host = host_batch(method, module, config, args.seed)
    # Without "filled" the U-Net's step computes the fill itself, as training does.
    batch = jax.device_put({k: v for k, v in host.items() if k != "filled" or fill_given})
    state = module.init_state(config, jax.random.key(args.seed), batch)
    jax_params = twins.jax_parameter_count(state.params)
    calls = network_calls(method, module, config, state, batch, phase) if args.per_layer else []

    step = jax_step(module, config, phase)
    compile_start = time.perf_counter()
    compiled = step.lower(state, batch).compile()
    compile_seconds = time.perf_counter() - compile_start
    flops = step_flops(compiled)
    state, metrics = compiled(state, batch)  # warm-up
    jax.block_until_ready(metrics)

    def jax_steps(n):
        nonlocal state, metrics
        for _ in range(n):
            state, metrics = compiled(state, batch)
        jax.block_until_ready(metrics)

    torch = import_torch()
    torch_call, torch_params = None, None
    if torch is not None:
        torch.manual_seed(args.seed)
        twin, torch_params = checked_twin(torch, method, config, phase, state.params)
        torch_args = twin.batch(host)
        twin.step(*torch_args)  # warm-up
        torch_call = lambda: twin.step(*torch_args)  # noqa: E731

    load_before = os.getloadavg()[0]
    jax_rounds, torch_rounds = alternate(jax_steps, torch_call, args.rounds, args.steps)
    seconds = statistics.median(jax_rounds)
    load_after = os.getloadavg()[0]

    ceiling = matmul_ceiling(args.matmul_size)
    info = machine_info()
    name = f"{method.config}:{args.variant or method.variant}" if ":" not in (args.variant or "") else args.variant
    figures = {
        "benchmark": "train_throughput",
        "method": args.method,
        "variant": args.variant or method.variant,
        "config": name,
        "phase": phase,
        "image_size": size,
        "batch_size": batch_size,
        "timed_steps": args.steps,
        "rounds": args.rounds,
        "compile_seconds": compile_seconds,
        "seconds_per_step": seconds,
        "seconds_per_step_rounds": jax_rounds,
        "images_per_s": batch_size / seconds,
        "flops_per_step": flops,
        "achieved_flops_per_s": flops / seconds,
        **ceiling,
        "fraction_of_matmul_ceiling": flops / seconds / ceiling["matmul_flops_per_s"],
        "parameters": jax_params,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        # Other processes' load: a 1-minute load average above the core count means both
        # frameworks shared the cores during the timed rounds.
        "load_average_1min": [load_before, load_after],
        "machine": info,
    }
    if hasattr(module, "filled_image"):
        figures["input_fill"] = f"{config.model.get('input_fill', 'mean')}, " + ("given to the step" if fill_given else "inside the step")
    print(f"machine: {format_machine(info)}; XLA_FLAGS={figures['xla_flags']!r}; "
          f"load average {load_before:.1f} -> {load_after:.1f} over the timed rounds")
    print(f"{name} train step" + (f" ({phase} phase)" if phase else "") + f", batch {batch_size} at {size} px"
          + (f", input fill {figures['input_fill']}" if "input_fill" in figures else "") + ": "
          f"{figures['images_per_s']:.2f} images/s (median of {args.rounds} rounds of {args.steps} steps: "
          + ", ".join(f"{s:.3f}" for s in jax_rounds) + f" s/step; compile {compile_seconds:.1f} s)")
    print(f"  parameters: " + ", ".join(f"{k} {v:,}" for k, v in jax_params.items()))
    print(f"  {flops / 1e9:.1f} GFLOP/step (XLA cost analysis) -> {figures['achieved_flops_per_s'] / 1e9:.1f} GFLOP/s achieved")
    print(f"  ceiling: {args.matmul_size}x{args.matmul_size} float32 matmul at {ceiling['matmul_flops_per_s'] / 1e9:.1f} GFLOP/s "
          f"-> {100 * figures['fraction_of_matmul_ceiling']:.0f}% of it")
    if torch is None:
        figures["torch"] = "not installed (pip install 'jaxpaint[bench]' to compare with PyTorch)"
        print(f"  PyTorch: {figures['torch']}")
    else:
        torch_seconds = statistics.median(torch_rounds)
        figures.update({
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "torch_parameters": torch_params,
            "torch_seconds_per_step": torch_seconds,
            "torch_seconds_per_step_rounds": torch_rounds,
            "torch_images_per_s": batch_size / torch_seconds,
            "speedup_vs_torch": torch_seconds / seconds,
            "speedup_vs_torch_rounds": [t / j for j, t in zip(jax_rounds, torch_rounds)],
        })
        print(f"  PyTorch {torch.__version__} ({torch.get_num_threads()} threads), same shapes, parameters "
              f"({', '.join(f'{k} {v:,}' for k, v in torch_params.items())}) and step, alternating: "
              f"{figures['torch_images_per_s']:.2f} images/s (" + ", ".join(f"{s:.3f}" for s in torch_rounds)
              + f" s/step) -> JAX at {figures['speedup_vs_torch']:.2f}x PyTorch (per round: "
              + ", ".join(f"{r:.2f}" for r in figures["speedup_vs_torch_rounds"]) + ")")
    if args.per_layer:
        print(f"per layer, forward + gradient w.r.t. input and params, batch {batch_size}, best of 3:")
        figures["per_layer"] = per_layer_table(calls, torch)
    return figures
