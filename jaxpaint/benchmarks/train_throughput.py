"""Training throughput of the Context Encoder: images/s of one jitted train step (G and D updates).

Figures: images/s after warm-up, the step's FLOPs from XLA's cost analysis, the
achieved FLOP/s, and, measured in the same run on the same device, the FLOP/s of a
dense float32 matmul as the ceiling to compare with. The batch is synthetic (random
pixels and block holes), so the data pipeline is not part of the figure.

When PyTorch is installed (the `bench` extra), the same run also times a PyTorch CPU
model of the same shapes and step structure (G forward, D on the composite,
reconstruction + adversarial loss, G and D Adam updates, D on real and fake), in
rounds alternating with the JAX step so that load from other processes hits both
alike; the figure is the ratio of the medians. `--per-layer` adds a table of
forward+gradient time per layer: flax's reference layers, jaxpaint.models.layers'
forms (what the models use) and PyTorch.

    jaxpaint bench train_throughput [-- --variant paper --batch-size 32 --steps 3 --rounds 3 --per-layer]
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

from jaxpaint.benchmarks import format_machine, machine_info


def add_arguments(parser) -> None:
    parser.add_argument("--variant", default="paper", help="experiments/configs/context_encoder.py variant, or CONFIG:VARIANT of a Context Encoder config")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3, help="timed steps a round, after one warm-up step")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds, alternating JAX and PyTorch")
    parser.add_argument("--per-layer", action="store_true", help="also time each layer's forward+gradient")
    parser.add_argument("--matmul-size", type=int, default=2048, help="side of the square matmul for the ceiling")
    parser.add_argument("--seed", type=int, default=0)


def synthetic_batch(batch_size: int, size: int, seed: int) -> dict[str, np.ndarray]:
    """Random float32 images in [-1, 1] with 1–4 square holes each, as the train step sees them."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(-1.0, 1.0, (batch_size, size, size, 3)).astype(np.float32)
    hole = np.zeros((batch_size, size, size), bool)
    for b in range(batch_size):
        for _ in range(rng.integers(1, 5)):
            side = int(rng.integers(size // 20 + 1, size // 3))
            row, col = rng.integers(0, size - side, 2)
            hole[b, row:row + side, col:col + side] = True
    return {"image": image, "hole": hole}


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
# The PyTorch reference: same shapes and step structure as jaxpaint.methods.context_encoder
# (jaxpaint.engine.gan.train_step in its "gan" phase)


def layer_specs(config) -> list[dict]:
    """The generator's and discriminator's conv layers with their shapes, in the models' order.

    kind: "strided" (4×4 stride-2 pad-1 conv), "bottleneck" (VALID n×n conv to 1×1, or the
    VALID n×n transposed conv back from 1×1) or "transposed" (4×4 stride-2 SAME transposed conv).
    """
    from jaxpaint.models.layers import num_stages, stage_widths

    size, n, m = int(config.data.image_size), int(config.model.feature_size), config.model
    specs = []
    for net, width in (("G", m.width), ("D", m.disc_width)):
        widths = stage_widths(num_stages(size, n), width)
        cin, side = 3, size
        for i, cout in enumerate(widths):
            specs.append(dict(name=f"{net} conv{i}", kind="strided", cin=cin, cout=cout, size=side, bias=i == 0))
            cin, side = cout, side // 2
        if net == "G":
            specs.append(dict(name="G bottleneck_conv", kind="bottleneck", cin=cin, cout=m.bottleneck, size=n, bias=False))
            specs.append(dict(name="G dec_fc", kind="bottleneck", cin=m.bottleneck, cout=cin, size=1, bias=False,
                              transposed=True))
            for i, cout in enumerate(list(reversed(widths[:-1])) + [3]):
                name = f"G dec_conv{i}" if i < len(widths) - 1 else "G dec_out"
                specs.append(dict(name=name, kind="transposed", cin=cin, cout=cout, size=side, bias=name == "G dec_out"))
                cin, side = cout, side * 2
        else:
            specs.append(dict(name="D logit", kind="bottleneck", cin=cin, cout=1, size=n, bias=True))
    return specs


def torch_models(torch, config):
    """(generator, discriminator) as torch.nn modules mirroring ContextEncoder and DCGANDiscriminator."""
    nn = torch.nn
    from jaxpaint.models.layers import num_stages, stage_widths

    size, n, m = int(config.data.image_size), int(config.model.feature_size), config.model

    def downsample(widths):
        layers, cin = [], 3
        for i, cout in enumerate(widths):
            layers.append(nn.Conv2d(cin, cout, 4, 2, 1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1))
            layers.append(nn.LeakyReLU(0.2))
            cin = cout
        return layers

    class ChannelwiseDense(nn.Module):
        def __init__(self, channels, positions):
            super().__init__()
            self.kernel = nn.Parameter(torch.randn(channels, positions, positions) / positions**0.5)
            self.bias = nn.Parameter(torch.zeros(channels, positions))

        def forward(self, x):  # NCHW
            b, c, h, w = x.shape
            mixed = torch.einsum("bcp,cpq->bcq", x.reshape(b, c, h * w), self.kernel) + self.bias
            return mixed.reshape(b, c, h, w)

    g_widths = stage_widths(num_stages(size, n), m.width)
    decoder, cin = [], g_widths[-1]
    for cout in reversed(g_widths[:-1]):
        decoder += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        cin = cout
    generator = nn.Sequential(
        *downsample(g_widths),
        ChannelwiseDense(g_widths[-1], n * n), nn.LeakyReLU(0.2),
        nn.Conv2d(g_widths[-1], m.bottleneck, n, bias=False), nn.BatchNorm2d(m.bottleneck), nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(m.bottleneck, g_widths[-1], n, bias=False), nn.BatchNorm2d(g_widths[-1]), nn.ReLU(),
        *decoder,
        nn.ConvTranspose2d(cin, 3, 4, 2, 1), nn.Tanh(),
    )
    d_widths = stage_widths(num_stages(size, n), m.disc_width)
    discriminator = nn.Sequential(*downsample(d_widths), nn.Conv2d(d_widths[-1], 1, n), nn.Flatten(0))
    for net in (generator, discriminator):
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(module.weight, 0.0, 0.02)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.normal_(module.weight, 1.0, 0.02)
    return generator, discriminator


def torch_train_step(torch, config):
    """A closure running one PyTorch train step with the JAX step's structure on a given batch."""
    generator, discriminator = torch_models(torch, config)
    o, loss = config.optim, config.loss
    g_opt = torch.optim.Adam(generator.parameters(), lr=o.learning_rate * o.generator_lr_scale, betas=(o.b1, o.b2))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=o.learning_rate, betas=(o.b1, o.b2))
    g_params = list(generator.parameters())
    softplus = torch.nn.functional.softplus
    colour = torch.tensor(config.data.mean_rgb, dtype=torch.float32).reshape(1, 3, 1, 1)

    def step(image, hole):  # image (B, 3, S, S), hole float (B, 1, S, S)
        inputs = torch.where(hole > 0, colour, image)
        prediction = generator(inputs)
        # L_rec weights: 1 on holes, overlap_weight on the band around them (as jaxpaint.losses).
        grown = torch.nn.functional.max_pool2d(hole, 2 * loss.overlap + 1, 1, loss.overlap)
        weights = hole + loss.overlap_weight * (grown - hole)
        rec = torch.sum(weights * (prediction - image) ** 2) / (3 * torch.sum(weights))
        shown = torch.where(hole > 0, prediction, image)  # D judges the composite, as jaxpaint.engine.gan
        adv = torch.mean(softplus(-discriminator(shown)))
        g_loss = loss.lambda_rec * rec + (1 - loss.lambda_rec) * adv
        g_opt.zero_grad()
        g_loss.backward(inputs=g_params)  # like jax.grad w.r.t. G's params only
        g_opt.step()
        fake = shown.detach()
        d_loss = torch.mean(softplus(-discriminator(image))) + torch.mean(softplus(discriminator(fake)))
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        return g_loss.item() + d_loss.item()

    return step


def torch_batch(torch, batch: dict) -> tuple:
    image = torch.from_numpy(np.ascontiguousarray(batch["image"].transpose(0, 3, 1, 2)))
    hole = torch.from_numpy(batch["hole"][:, None].astype(np.float32))
    return image, hole


# ---------------------------------------------------------------------------------------------
# Per-layer table


def _jax_layer(spec: dict, fast: bool):
    """(flax module, NHWC input shape) for a layer spec: flax.linen's layer or jaxpaint.models.layers'."""
    import flax.linen as flax_nn

    from jaxpaint.models import layers

    conv = layers.Conv if fast else flax_nn.Conv
    transpose = layers.ConvTranspose if fast else flax_nn.ConvTranspose
    common = dict(use_bias=spec["bias"])
    if spec["kind"] == "strided":
        module = conv(spec["cout"], (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)), **common)
    elif spec["kind"] == "transposed":
        module = transpose(spec["cout"], (4, 4), strides=(2, 2), padding="SAME", **common)
    elif spec.get("transposed"):
        module = transpose(spec["cout"], (4, 4), padding="VALID", **common)
    else:
        module = conv(spec["cout"], (spec["size"],) * 2, padding="VALID", **common)
    return module, (spec["size"], spec["size"], spec["cin"])


def time_jax_layer(spec: dict, batch_size: int, fast: bool, repeats: int) -> float:
    """Seconds of one jitted forward + gradient (w.r.t. input and params) of a layer."""
    import jax
    import jax.numpy as jnp

    module, shape = _jax_layer(spec, fast)
    x = jax.random.normal(jax.random.key(0), (batch_size, *shape), jnp.float32)
    params = module.init(jax.random.key(1), x)
    cotangent = jax.random.normal(jax.random.key(2), jax.eval_shape(module.apply, params, x).shape)

    def forward_and_grad(p, x, cotangent):  # the cotangent is an argument, not a constant to fold
        y, pull = jax.vjp(module.apply, p, x)
        return y, pull(cotangent)

    fn = jax.jit(forward_and_grad)
    jax.block_until_ready(fn(params, x, cotangent))
    return min(time_calls(fn, (params, x, cotangent), 1) for _ in range(repeats))


def time_torch_layer(torch, spec: dict, batch_size: int, repeats: int) -> float:
    nn = torch.nn
    cin, cout, bias = spec["cin"], spec["cout"], spec["bias"]
    if spec["kind"] == "strided":
        layer = nn.Conv2d(cin, cout, 4, 2, 1, bias=bias)
    elif spec["kind"] == "transposed":
        layer = nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=bias)
    elif spec.get("transposed"):
        layer = nn.ConvTranspose2d(cin, cout, 4, bias=bias)
    else:
        layer = nn.Conv2d(cin, cout, spec["size"], bias=bias)
    x = torch.randn(batch_size, cin, spec["size"], spec["size"], requires_grad=True)

    def call():
        layer.zero_grad()
        x.grad = None
        y = layer(x)
        y.backward(torch.ones_like(y))

    call()
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        timings.append(time.perf_counter() - start)
    return min(timings)


def per_layer_table(config, batch_size: int, torch, repeats: int = 3) -> list[dict]:
    rows = []
    for spec in layer_specs(config):
        row = {"layer": spec["name"], "kind": spec["kind"],
               "shape": f"{spec['cin']}->{spec['cout']} @{spec['size']}",
               "flax_s": time_jax_layer(spec, batch_size, False, repeats),
               "fast_s": time_jax_layer(spec, batch_size, True, repeats),
               "torch_s": time_torch_layer(torch, spec, batch_size, repeats) if torch else None}
        rows.append(row)
        print(f"  {row['layer']:<20} {row['kind']:<10} {row['shape']:<16} flax {row['flax_s']:7.4f} s   "
              f"fast {row['fast_s']:7.4f} s" + (f"   torch {row['torch_s']:7.4f} s" if torch else ""), flush=True)
    print("  totals by kind (s, fwd+grad, batch %d):" % batch_size)
    for kind in ("strided", "bottleneck", "transposed"):
        picked = [r for r in rows if r["kind"] == kind]
        flax_s, fast_s = sum(r["flax_s"] for r in picked), sum(r["fast_s"] for r in picked)
        torch_s = f"{sum(r['torch_s'] for r in picked):7.3f}" if torch else "    n/a"
        print(f"  {kind:<11} flax {flax_s:7.3f}   fast {fast_s:7.3f}   torch {torch_s}")
    return rows


# ---------------------------------------------------------------------------------------------


def run(args) -> dict:
    import jax

    from jaxpaint.config import load_config
    from jaxpaint.methods import context_encoder as ce

    # A bare variant is context_encoder.py's; "content_network:lspet" names another Context Encoder config.
    config = load_config(args.variant if ":" in args.variant else f"context_encoder:{args.variant}")
    config.batch_size = args.batch_size
    size = int(config.data.image_size)
    host_batch = synthetic_batch(args.batch_size, size, args.seed)
    batch = jax.device_put(host_batch)
    state = ce.init_state(config, jax.random.key(args.seed), batch)

    step = jax.jit(lambda s, b: ce.train_step(config, s, b), donate_argnums=0)
    compile_start = time.perf_counter()
    compiled = step.lower(state, batch).compile()
    compile_seconds = time.perf_counter() - compile_start
    flops = step_flops(compiled)

    state, metrics = compiled(state, batch)  # warm-up
    jax.block_until_ready(metrics)

    torch = import_torch()
    if torch is not None:
        torch.manual_seed(args.seed)
        torch_step = torch_train_step(torch, config)
        torch_args = torch_batch(torch, host_batch)
        torch_step(*torch_args)  # warm-up

    load_before = os.getloadavg()[0]
    jax_rounds, torch_rounds = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for _ in range(args.steps):
            state, metrics = compiled(state, batch)
        jax.block_until_ready(metrics)
        jax_rounds.append((time.perf_counter() - start) / args.steps)
        if torch is not None:
            start = time.perf_counter()
            for _ in range(args.steps):
                torch_step(*torch_args)
            torch_rounds.append((time.perf_counter() - start) / args.steps)
    seconds = statistics.median(jax_rounds)
    load_after = os.getloadavg()[0]

    ceiling = matmul_ceiling(args.matmul_size)
    info = machine_info()
    figures = {
        "benchmark": "train_throughput",
        "method": "context_encoder",
        "variant": args.variant,
        "image_size": size,
        "batch_size": args.batch_size,
        "timed_steps": args.steps,
        "rounds": args.rounds,
        "compile_seconds": compile_seconds,
        "seconds_per_step": seconds,
        "seconds_per_step_rounds": jax_rounds,
        "images_per_s": args.batch_size / seconds,
        "flops_per_step": flops,
        "achieved_flops_per_s": flops / seconds,
        **ceiling,
        "fraction_of_matmul_ceiling": flops / seconds / ceiling["matmul_flops_per_s"],
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        # Other processes' load: a 1-minute load average above the core count means both
        # frameworks shared the cores during the timed rounds.
        "load_average_1min": [load_before, load_after],
        "machine": info,
    }
    print(f"machine: {format_machine(info)}; XLA_FLAGS={figures['xla_flags']!r}; "
          f"load average {load_before:.1f} -> {load_after:.1f} over the timed rounds")
    print(f"context_encoder:{args.variant} train step, batch {args.batch_size} at {size} px: "
          f"{figures['images_per_s']:.2f} images/s (median of {args.rounds} rounds of {args.steps} steps: "
          + ", ".join(f"{s:.2f}" for s in jax_rounds) + f" s/step; compile {compile_seconds:.1f} s)")
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
            "torch_seconds_per_step": torch_seconds,
            "torch_seconds_per_step_rounds": torch_rounds,
            "torch_images_per_s": args.batch_size / torch_seconds,
            "speedup_vs_torch": torch_seconds / seconds,
            "speedup_vs_torch_rounds": [t / j for j, t in zip(jax_rounds, torch_rounds)],
        })
        print(f"  PyTorch {torch.__version__} ({torch.get_num_threads()} threads), same shapes and step, alternating: "
              f"{figures['torch_images_per_s']:.2f} images/s (" + ", ".join(f"{s:.2f}" for s in torch_rounds)
              + f" s/step) -> JAX at {figures['speedup_vs_torch']:.2f}x PyTorch (per round: "
              + ", ".join(f"{r:.2f}" for r in figures["speedup_vs_torch_rounds"]) + ")")
    if args.per_layer:
        print(f"per layer, forward + gradient w.r.t. input and params, batch {args.batch_size}, best of 3:")
        figures["per_layer"] = per_layer_table(config, args.batch_size, torch)
    return figures
