"""PyTorch CPU twins of jaxpaint's training steps, for `jaxpaint bench train_throughput`.

A twin mirrors a JAX method's train step on the same shapes: the same layers (widths,
kernels, strides, padding), the same trainable parameter count per part, initial weights
drawn at the same scale, and the same step structure and optimiser, so that timing one
against the other compares the frameworks rather than two different workloads. Whatever
the JAX step computes on the device from the host batch (resizing, random augmentation,
heatmap targets, latent sampling, logged metrics) the twin computes in torch as well.

- `hourglass_twin`: jaxpaint.methods.pose (the Stacked Hourglass pose evaluator).
- `dcgan_twin`: jaxpaint.methods.semantic (the DCGAN of Semantic Image Inpainting,
  one step of jaxpaint.engine.gan in its "gan" phase).
- `context_encoder_twin`: jaxpaint.methods.context_encoder (also the content network of
  patch synthesis, a Context Encoder config).
- `unet_twin`: jaxpaint.methods.unet (the dilated U-Net), in either phase.

torch is optional (the `bench` extra): it is passed in as the `torch` argument and never
imported here. Layouts differ as the frameworks prefer: NHWC in JAX, NCHW in torch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Callable

import numpy as np

from jaxpaint.data.joints import NUM_SLOTS, NUM_TYPES, SLOT_MIRROR
from jaxpaint.metrics.pose import MAX_SLOTS_PER_TYPE, TYPE_SLOTS
from jaxpaint.models.hourglass import STEM_STRIDE

# Slots of each joint type, padded with the type's first slot so every row has the same length:
# a max (or any) over a row is then the max over the type's slots, as jaxpaint.metrics.pose takes it.
TYPE_SLOT_TABLE = np.array([list(s) + [s[0]] * (MAX_SLOTS_PER_TYPE - len(s)) for s in TYPE_SLOTS], np.int64)

# flax's lecun_normal draws from a normal truncated at ±2 std, rescaled by this to keep the variance 1/fan_in.
TRUNCATED_NORMAL_STD = 0.87962566103423978

HOURGLASS_STEM_PAD = (2, 3, 2, 3)  # flax's SAME padding of a 7×7 stride-2 conv on an even side: 2 before, 3 after


@dataclasses.dataclass(frozen=True)
class Twin:
    """A torch training step with its networks.

    modules: the networks, keyed like the JAX state's params parts.
    step:    one full training step on the `batch(...)` arguments; returns the loss as a float.
    batch:   host batch (numpy, NHWC, as `hourglass_batch` / `dcgan_batch` make) -> the step's arguments.
    """

    modules: dict[str, torch.nn.Module]  # noqa: F821 (torch is the caller's; annotations stay strings)
    step: Callable[..., float]
    batch: Callable[[dict], tuple]


# ---------------------------------------------------------------------------------------------
# Synthetic host batches and parameter counts


def hourglass_batch(batch_size: int, size: int, seed: int) -> dict[str, np.ndarray]:
    """What jaxpaint.methods.pose.train_step reads: float32 images in [-1, 1] (B, S, S, 3), joints_xy float32
    (B, 19, 2) in image pixels and joints_present bool (B, 19); an absent joint's xy is 0, as the data has it."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(-1.0, 1.0, (batch_size, size, size, 3)).astype(np.float32)
    present = rng.random((batch_size, NUM_SLOTS)) < 0.8
    xy = rng.uniform(0.0, size - 1, (batch_size, NUM_SLOTS, 2)).astype(np.float32)
    return {"image": image, "joints_xy": np.where(present[..., None], xy, 0.0).astype(np.float32),
            "joints_present": present}


def inpainting_batch(batch_size: int, size: int, seed: int) -> dict[str, np.ndarray]:
    """What an inpainter's train step reads: float32 images in [-1, 1] with 1–4 square holes each."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(-1.0, 1.0, (batch_size, size, size, 3)).astype(np.float32)
    hole = np.zeros((batch_size, size, size), bool)
    for b in range(batch_size):
        for _ in range(rng.integers(1, 5)):
            side = int(rng.integers(size // 20 + 1, size // 3))
            row, col = rng.integers(0, size - side, 2)
            hole[b, row:row + side, col:col + side] = True
    return {"image": image, "hole": hole}


def dcgan_batch(batch_size: int, size: int, seed: int) -> dict[str, np.ndarray]:
    """What the DCGAN's train step reads: float32 real images in [-1, 1] (B, S, S, 3); it has no holes."""
    rng = np.random.default_rng(seed)
    return {"image": rng.uniform(-1.0, 1.0, (batch_size, size, size, 3)).astype(np.float32)}


def jax_parameter_count(params) -> dict[str, int]:
    """Trainable parameters per top-level part of a JAX state's params (arrays or jax.eval_shape structs)."""
    import jax

    return {part: sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(tree)) for part, tree in params.items()}


def torch_parameter_count(twin: Twin) -> dict[str, int]:
    """Trainable parameters per part; BatchNorm running statistics are buffers, not counted (as model_state in JAX)."""
    return {part: sum(p.numel() for p in module.parameters() if p.requires_grad)
            for part, module in twin.modules.items()}


def _nchw(torch, images: np.ndarray):
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


# ---------------------------------------------------------------------------------------------
# Initialisers and optimiser pieces


def _hole_nchw(torch, hole: np.ndarray):
    return torch.from_numpy(hole[:, None].astype(np.float32))


def _lecun_normal_(torch, weight) -> None:
    """flax's default conv kernel init: truncated normal with variance 1/fan_in."""
    std = (1.0 / weight[0].numel()) ** 0.5 / TRUNCATED_NORMAL_STD  # weight[0]: one output channel, fan_in entries
    torch.nn.init.trunc_normal_(weight, 0.0, std, -2.0 * std, 2.0 * std)


def _dcgan_init_(torch, module) -> None:
    """jaxpaint.models.layers' DCGAN init: conv and dense weights N(0, 0.02), BN scales N(1, 0.02), biases 0."""
    nn = torch.nn
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


def _batch_norm(torch, channels: int):
    # flax momentum 0.9 keeps 0.9 of the running average; torch's momentum is the new batch's share.
    return torch.nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1)


def cosine_lr_factor(step: int, num_steps: int, final_fraction: float) -> float:
    """optax.cosine_decay_schedule's multiplier of the base rate at `step` (held at the end after num_steps)."""
    t = min(step, num_steps) / num_steps
    return final_fraction + (1.0 - final_fraction) * 0.5 * (1.0 + math.cos(math.pi * t))


@contextlib.contextmanager
def frozen_statistics(torch, module):
    """Within it, `module`'s BatchNorm layers still normalise by batch statistics (train mode) but leave
    their running averages alone: the JAX GAN step asks D about the fake in the generator's objective
    and discards the statistics that call produces."""
    norms = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m in norms:
            m.track_running_stats = True


# ---------------------------------------------------------------------------------------------
# Stacked Hourglass (jaxpaint.models.hourglass, jaxpaint.methods.pose)


def hourglass_network(torch, model_config, num_joints: int = NUM_TYPES):
    """StackedHourglass in torch: (B, 3, S, S) -> (num_stacks, B, num_joints, S/4, S/4)."""
    nn, F = torch.nn, torch.nn.functional

    def conv(cin, cout, k=1):  # odd k at stride 1: flax's SAME is k // 2 on each side
        return nn.Conv2d(cin, cout, k, padding=k // 2)

    class Residual(nn.Module):
        def __init__(self, cin, features):
            super().__init__()
            half = max(features // 2, 1)
            self.branch = nn.Sequential(
                _batch_norm(torch, cin), nn.ReLU(), conv(cin, half),
                _batch_norm(torch, half), nn.ReLU(), conv(half, half, 3),
                _batch_norm(torch, half), nn.ReLU(), conv(half, features))
            self.skip = nn.Identity() if cin == features else conv(cin, features)

        def forward(self, x):
            return self.skip(x) + self.branch(x)

    class Hourglass(nn.Module):
        def __init__(self, depth, features):
            super().__init__()
            self.upper = Residual(features, features)
            self.down = Residual(features, features)
            self.inner = Hourglass(depth - 1, features) if depth > 1 else Residual(features, features)
            self.up = Residual(features, features)

        def forward(self, x):
            low = self.up(self.inner(self.down(F.max_pool2d(x, 2))))
            return self.upper(x) + F.interpolate(low, scale_factor=2, mode="nearest")

    class StackedHourglass(nn.Module):
        def __init__(self, num_stacks, features, depth):
            super().__init__()
            stem, half = max(features // 4, 1), max(features // 2, 1)
            self.stem = nn.Sequential(
                nn.ZeroPad2d(HOURGLASS_STEM_PAD), nn.Conv2d(3, stem, 7, 2), _batch_norm(torch, stem), nn.ReLU(),
                Residual(stem, half), nn.MaxPool2d(2), Residual(half, half), Residual(half, features))
            self.bodies = nn.ModuleList(
                nn.Sequential(Hourglass(depth, features), Residual(features, features), conv(features, features),
                              _batch_norm(torch, features), nn.ReLU())
                for _ in range(num_stacks))
            self.heads = nn.ModuleList(conv(features, num_joints) for _ in range(num_stacks))
            # Intermediate supervision: the next stack sees this one's features and heatmaps, remapped.
            self.remap_features = nn.ModuleList(conv(features, features) for _ in range(num_stacks - 1))
            self.remap_heatmaps = nn.ModuleList(conv(num_joints, features) for _ in range(num_stacks - 1))

        def forward(self, images):
            x, heatmaps = self.stem(images), []
            for i, (body, head) in enumerate(zip(self.bodies, self.heads)):
                y = body(x)
                heatmaps.append(head(y))
                if i < len(self.remap_features):
                    x = x + self.remap_features[i](y) + self.remap_heatmaps[i](heatmaps[-1])
            return torch.stack(heatmaps)

    net = StackedHourglass(int(model_config.num_stacks), int(model_config.features), int(model_config.depth))
    for layer in net.modules():
        if isinstance(layer, nn.Conv2d):
            _lecun_normal_(torch, layer.weight)
            nn.init.zeros_(layer.bias)
    return net


def hourglass_optimizer(torch, config, params):
    """(optimiser, per-step lr scheduler) as jaxpaint.methods.pose.optimizer: adam or rmsprop, cosine decay."""
    o = config.optim
    if o.name == "adam":
        opt = torch.optim.Adam(params, lr=o.learning_rate)  # optax.adam's defaults: betas (0.9, 0.999), eps 1e-8
    elif o.name == "rmsprop":
        # optax.rmsprop's decay 0.9; its eps sits inside the square root, torch's outside (1e-8: no cost difference).
        opt = torch.optim.RMSprop(params, lr=o.learning_rate, alpha=0.9, eps=1e-8)
    else:
        raise ValueError(f"optim.name must be adam or rmsprop, not {o.name!r}")
    num_steps, fraction = max(int(config.num_steps), 1), float(o.final_lr_fraction)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: cosine_lr_factor(step, num_steps, fraction))
    return opt, schedule


def model_inputs(torch, size: int, images, xy):
    """Images (B, 3, S, S) resized to the network's input side and the joints rescaled to its pixels."""
    if images.shape[-1] == size:
        return images, xy
    scale = size / images.shape[-1]
    resized = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear", antialias=True,
                                              align_corners=False)
    return resized, (xy + 0.5) * scale - 0.5


def mirror(torch, images, xy, present, flip):
    """Left-right mirror where flip (B,) is True: pixels, x -> W - 1 - x, left and right slots swapped."""
    width = images.shape[-1]
    images = torch.where(flip[:, None, None, None], images.flip(-1), images)
    mirror_slots = torch.from_numpy(SLOT_MIRROR.astype(np.int64))
    flipped_xy = torch.stack([width - 1 - xy[..., 0], xy[..., 1]], dim=-1)[:, mirror_slots]
    xy = torch.where(flip[:, None, None], flipped_xy, xy)
    present = torch.where(flip[:, None], present[:, mirror_slots], present)
    return images, xy, present


def rotate_scale(torch, images, xy, present, angle, scale):
    """Rotation by `angle` and scaling by `scale` about the centre, bilinear with -1 (black) outside; joints
    move along and those leaving the image stop being present (jaxpaint.methods.pose.rotate_scale)."""
    batch, _, height, width = images.shape
    cx, cy = (width - 1) / 2, (height - 1) / 2
    cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    rows, cols = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32),
                                indexing="ij")
    dx, dy = cols - cx, rows - cy
    src_x = cx + (cos * dx + sin * dy) / scale[:, None, None]
    src_y = cy + (-sin * dx + cos * dy) / scale[:, None, None]
    # align_corners: -1 and 1 are the centres of the first and last pixels, pixel k centred at k as in JAX.
    grid = torch.stack([2 * src_x / (width - 1) - 1, 2 * src_y / (height - 1) - 1], dim=-1)
    # grid_sample pads with 0; shifting by 1 makes every outside tap contribute -1, as map_coordinates' cval.
    warped = torch.nn.functional.grid_sample(images + 1.0, grid, mode="bilinear", padding_mode="zeros",
                                             align_corners=True) - 1.0
    dxj, dyj = xy[..., 0] - cx, xy[..., 1] - cy
    cos, sin = cos[:, :, 0], sin[:, :, 0]
    moved_x = cx + scale[:, None] * (cos * dxj - sin * dyj)
    moved_y = cy + scale[:, None] * (sin * dxj + cos * dyj)
    inside = (moved_x >= 0) & (moved_x <= width - 1) & (moved_y >= 0) & (moved_y <= height - 1)
    present = present & inside
    moved = torch.stack([moved_x, moved_y], dim=-1)
    return warped, torch.where(present[..., None], moved, torch.zeros_like(moved)), present


def augment(torch, augment_config, images, xy, present):
    """config.augment's random mirror, then rotation and scale, drawn per example from torch's generator."""
    batch = images.shape[0]
    if augment_config.flip:
        images, xy, present = mirror(torch, images, xy, present, torch.rand(batch) < 0.5)
    max_degrees = float(augment_config.get("rotate_degrees", 0.0))
    low, high = tuple(augment_config.get("scale_range", (1.0, 1.0)))
    if max_degrees > 0 or (low, high) != (1.0, 1.0):
        angle = torch.deg2rad((2 * torch.rand(batch) - 1) * max_degrees)
        scale = low + (high - low) * torch.rand(batch)
        images, xy, present = rotate_scale(torch, images, xy, present, angle, scale)
    return images, xy, present


def heatmap_targets(torch, xy, present, input_size: int, heat_size: int, sigma: float):
    """Gaussian targets (B, 12, h, w): each present joint's peak-1 Gaussian in its type's channel, pairs by max."""
    stride = input_size / heat_size
    uv = (xy - (stride - 1) / 2) / stride
    cells = torch.arange(heat_size, dtype=torch.float32)
    gx = torch.exp(-((cells[None, None, :] - uv[..., 0:1]) ** 2) / (2 * sigma**2))  # (B, 19, w)
    gy = torch.exp(-((cells[None, None, :] - uv[..., 1:2]) ** 2) / (2 * sigma**2))  # (B, 19, h)
    per_slot = gy[..., :, None] * gx[..., None, :] * present.float()[..., None, None]
    return per_slot[:, torch.from_numpy(TYPE_SLOT_TABLE)].amax(dim=2)


def type_present(torch, present):
    """(B, 19) slot flags -> (B, 12): some joint of the type is labelled."""
    return present[:, torch.from_numpy(TYPE_SLOT_TABLE)].any(dim=-1)


def heatmap_loss(torch, heatmaps, targets, labelled):
    """jaxpaint.methods.pose.heatmap_loss in NCHW: every stack's squared error on labelled types, summed
    over stacks, over the number of labelled cells."""
    weight = labelled.float()[:, :, None, None]
    total = torch.sum(weight * (heatmaps - targets[None]) ** 2)
    cells = torch.clamp(torch.sum(weight) * heatmaps.shape[-2] * heatmaps.shape[-1], min=1.0)
    return total / cells


def hourglass_twin(torch, config) -> Twin:
    """The pose method's train step: resize, augment, targets, all stacks' loss, one optimiser update."""
    net = hourglass_network(torch, config.model)
    params = list(net.parameters())
    opt, schedule = hourglass_optimizer(torch, config, params)
    size = int(config.model.input_size)

    def step(image, joints_xy, joints_present) -> float:
        images, xy = model_inputs(torch, size, image, joints_xy)
        images, xy, present = augment(torch, config.augment, images, xy, joints_present)
        targets = heatmap_targets(torch, xy, present, size, size // STEM_STRIDE, float(config.model.sigma))
        labelled = type_present(torch, present)
        heatmaps = net(images)
        loss = heatmap_loss(torch, heatmaps, targets, labelled)
        opt.zero_grad()
        loss.backward()
        with torch.no_grad():  # the JAX step's other metrics: last_stack_loss and grad_norm
            _ = (heatmap_loss(torch, heatmaps[-1:], targets, labelled),
                 torch.nn.utils.get_total_norm([p.grad for p in params]))
        opt.step()
        schedule.step()
        return loss.item()

    def batch(host: dict) -> tuple:
        return (_nchw(torch, host["image"]), torch.from_numpy(host["joints_xy"]),
                torch.from_numpy(host["joints_present"].astype(bool)))

    return Twin(modules={"hourglass": net}, step=step, batch=batch)


# ---------------------------------------------------------------------------------------------
# DCGAN (jaxpaint.models.dcgan, jaxpaint.models.discriminators, jaxpaint.methods.semantic)


def dcgan_networks(torch, config):
    """(generator, discriminator): DCGANGenerator z (B, latent) -> (B, 3, S, S) and DCGANDiscriminator -> (B,)."""
    nn = torch.nn
    from jaxpaint.models.dcgan import FEATURE_SIZE
    from jaxpaint.models.layers import num_stages, stage_widths

    size, m, n = int(config.data.image_size), config.model, FEATURE_SIZE
    g_widths = stage_widths(num_stages(size, n), int(m.width))

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.project = nn.Linear(int(m.latent_dim), n * n * g_widths[-1], bias=False)
            layers, cin = [_batch_norm(torch, g_widths[-1]), nn.ReLU()], g_widths[-1]
            for cout in reversed(g_widths[:-1]):
                # k 4, stride 2, padding 1 doubles the side, as flax's SAME ConvTranspose does.
                layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), _batch_norm(torch, cout), nn.ReLU()]
                cin = cout
            self.up = nn.Sequential(*layers, nn.ConvTranspose2d(cin, 3, 4, 2, 1), nn.Tanh())

        def forward(self, z):
            return self.up(self.project(z).reshape(z.shape[0], g_widths[-1], n, n))

    d_widths, layers, cin = stage_widths(num_stages(size, n), int(m.disc_width)), [], 3
    for i, cout in enumerate(d_widths):
        layers.append(nn.Conv2d(cin, cout, 4, 2, 1, bias=i == 0))
        if i > 0:
            layers.append(_batch_norm(torch, cout))
        layers.append(nn.LeakyReLU(0.2))
        cin = cout
    discriminator = nn.Sequential(*layers, nn.Conv2d(cin, 1, n), nn.Flatten(0))
    generator = Generator()
    for net in (generator, discriminator):
        _dcgan_init_(torch, net)
    return generator, discriminator


def dcgan_twin(torch, config, phase: str = "gan") -> Twin:
    """jaxpaint.engine.gan's "gan" step for the DCGAN: z ~ U[-1, 1], G updated on the non-saturating loss of
    D(G(z)), D on real against the same G(z) (stopped), both from the same state, Adam for each."""
    if phase != "gan":  # a DCGAN trains nothing without its discriminator
        raise ValueError(f"the DCGAN twin has only the gan phase, not {phase!r}")
    generator, discriminator = dcgan_networks(torch, config)
    o = config.optim
    g_params = list(generator.parameters())
    g_opt = torch.optim.Adam(g_params, lr=o.learning_rate, betas=(o.b1, o.b2))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=o.learning_rate, betas=(o.b1, o.b2))
    softplus, latent = torch.nn.functional.softplus, int(config.model.latent_dim)

    def step(image) -> float:
        fake = generator(2 * torch.rand(image.shape[0], latent) - 1)
        with frozen_statistics(torch, discriminator):  # the JAX G objective drops this call's statistics
            g_loss = torch.mean(softplus(-discriminator(fake)))  # weight 1 on "adv", no other terms
        g_opt.zero_grad()
        g_loss.backward(inputs=g_params)  # like jax.grad w.r.t. G's params only
        # Real and fake through D separately, each normalised by its own batch statistics.
        real_logits, fake_logits = discriminator(image), discriminator(fake.detach())
        d_loss = torch.mean(softplus(-real_logits)) + torch.mean(softplus(fake_logits))
        d_opt.zero_grad()
        d_loss.backward()
        with torch.no_grad():  # the JAX step's d_real and d_fake metrics
            _ = torch.sigmoid(real_logits).mean(), torch.sigmoid(fake_logits).mean()
        g_opt.step()
        d_opt.step()
        return g_loss.item() + d_loss.item()

    def batch(host: dict) -> tuple:
        return (_nchw(torch, host["image"]),)

    return Twin(modules={"generator": generator, "discriminator": discriminator}, step=step, batch=batch)


# ---------------------------------------------------------------------------------------------
# Context Encoder (jaxpaint.models.context_encoder, jaxpaint.methods.context_encoder); the content
# network of patch synthesis is a Context Encoder config


def channelwise_dense(torch, channels: int, positions: int):
    """The Context Encoder's channel-wise fully-connected layer (NCHW): each channel mixes its own positions."""
    nn = torch.nn

    class ChannelwiseDense(nn.Module):
        def __init__(self):
            super().__init__()
            self.kernel = nn.Parameter(torch.randn(channels, positions, positions) / positions**0.5)
            self.bias = nn.Parameter(torch.zeros(channels, positions))

        def forward(self, x):
            b, c, h, w = x.shape
            mixed = torch.einsum("bcp,cpq->bcq", x.reshape(b, c, h * w), self.kernel) + self.bias
            return mixed.reshape(b, c, h, w)

    return ChannelwiseDense()


def context_encoder_networks(torch, config):
    """(generator, discriminator) as torch.nn modules mirroring ContextEncoder and DCGANDiscriminator."""
    nn = torch.nn
    from jaxpaint.models.layers import num_stages, stage_widths

    size, n, m = int(config.data.image_size), int(config.model.feature_size), config.model

    elu = m.get("activation", "leaky_relu") == "elu"  # the content network's ELUs

    def downsample(widths, act):
        layers, cin = [], 3
        for i, cout in enumerate(widths):
            layers.append(nn.Conv2d(cin, cout, 4, 2, 1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1))
            layers.append(act())
            cin = cout
        return layers

    encoder_act = nn.ELU if elu else (lambda: nn.LeakyReLU(0.2))
    decoder_act = nn.ELU if elu else nn.ReLU
    g_widths = stage_widths(num_stages(size, n), m.width)
    decoder, cin = [], g_widths[-1]
    for cout in reversed(g_widths[:-1]):
        decoder += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), decoder_act()]
        cin = cout
    if m.get("bottleneck_layer", "channelwise") == "fc":  # a plain dense layer to a 1×1 map
        bottleneck = [nn.Flatten(), nn.Linear(g_widths[-1] * n * n, m.bottleneck, bias=False),
                      nn.Unflatten(1, (m.bottleneck, 1, 1))]
    else:
        bottleneck = [channelwise_dense(torch, g_widths[-1], n * n), encoder_act(),
                      nn.Conv2d(g_widths[-1], m.bottleneck, n, bias=False)]
    generator = nn.Sequential(
        *downsample(g_widths, encoder_act), *bottleneck, nn.BatchNorm2d(m.bottleneck), encoder_act(),
        nn.ConvTranspose2d(m.bottleneck, g_widths[-1], n, bias=False), nn.BatchNorm2d(g_widths[-1]), decoder_act(),
        *decoder,
        nn.ConvTranspose2d(cin, 3, 4, 2, 1), nn.Tanh(),
    )
    d_widths = stage_widths(num_stages(size, n), m.disc_width)
    discriminator = nn.Sequential(*downsample(d_widths, lambda: nn.LeakyReLU(0.2)), nn.Conv2d(d_widths[-1], 1, n),
                                  nn.Flatten(0))
    for net in (generator, discriminator):
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.normal_(module.weight, 0.0, 0.02)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.normal_(module.weight, 1.0, 0.02)
    return generator, discriminator


def context_encoder_twin(torch, config, phase: str = "gan") -> Twin:
    """jaxpaint.engine.gan's step for the Context Encoder in `phase`: G on the mean-colour-filled input, L_rec
    on the holes and the band around them, and in the "gan" phase the adversarial term on the composite and
    D on real and fake ("g_only": G on λ_rec·L_rec alone, D untouched)."""
    generator, discriminator = context_encoder_networks(torch, config)
    adversarial = phase == "gan"
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
        g_loss = loss.lambda_rec * rec
        if adversarial:
            g_loss = g_loss + (1 - loss.lambda_rec) * torch.mean(softplus(-discriminator(shown)))
        g_opt.zero_grad()
        g_loss.backward(inputs=g_params)  # like jax.grad w.r.t. G's params only
        g_opt.step()
        if not adversarial:
            return g_loss.item()
        fake = shown.detach()
        d_loss = torch.mean(softplus(-discriminator(image))) + torch.mean(softplus(discriminator(fake)))
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        return g_loss.item() + d_loss.item()

    modules = {"generator": generator} | ({"discriminator": discriminator} if adversarial else {})
    return Twin(modules=modules, step=step, batch=lambda host: (_nchw(torch, host["image"]), _hole_nchw(torch, host["hole"])))


# ---------------------------------------------------------------------------------------------
# The dilated U-Net (jaxpaint.models.unet, jaxpaint.methods.unet)


def unet_generator(torch, config):
    """torch.nn.Module mirroring DilatedUNet: NCHW (B, 4, S, S) -> (B, 4, S, S), image then mask."""
    nn = torch.nn
    m = config.model
    w, momentum = int(m.width), 1.0 - float(m.bn_momentum)  # flax keeps momentum of the old average
    residual = bool(m.get("residual", False))

    def block(cin, cout, kernel=3, stride=1, dilation=1):
        # SAME padding: stride-2 3×3 convs on even sides pad 0 before and 1 after in XLA; torch pads 1 both
        # sides, which moves the sampling grid by one pixel but costs the same.
        pad = dilation * (kernel - 1) // 2
        return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, pad, dilation=dilation, bias=False),
                             nn.BatchNorm2d(cout, eps=1e-3, momentum=momentum), nn.ReLU())

    def up(cin, cout):
        return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
                             nn.BatchNorm2d(cout, eps=1e-3, momentum=momentum), nn.ReLU())

    class DilatedUNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = block(4, w, 5), block(w, 2 * w, stride=2)
            self.conv3, self.conv4 = block(2 * w, 2 * w), block(2 * w, 4 * w, stride=2)
            self.middle = nn.Sequential(block(4 * w, 4 * w), block(4 * w, 4 * w),
                                        *[block(4 * w, 4 * w, dilation=r) for r in (2, 4, 8, 16)],
                                        block(4 * w, 4 * w), block(4 * w, 4 * w))
            self.up1, self.conv9 = up(8 * w, 2 * w), block(4 * w, 2 * w)
            self.up2, self.conv10 = up(4 * w, w), block(2 * w, max(w // 2, 1))
            self.image, self.mask = nn.Conv2d(max(w // 2, 1), 3, 3, padding=1), nn.Conv2d(max(w // 2, 1), 1, 3, padding=1)

        def forward(self, x):
            c1 = self.conv1(x)
            c2 = self.conv2(c1)
            c3 = self.conv3(c2)
            c4 = self.conv4(c3)
            h = self.up1(torch.cat([self.middle(c4), c4], 1))
            h = self.up2(torch.cat([self.conv9(torch.cat([h, c3], 1)), c2], 1))
            h = self.conv10(torch.cat([h, c1], 1))
            image = torch.clamp(x[:, :3] + self.image(h), -1, 1) if residual else torch.tanh(self.image(h))
            return torch.cat([image, torch.sigmoid(self.mask(h))], 1)

    net = DilatedUNet()
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(module.weight)
    if residual:
        nn.init.zeros_(net.image.weight)
    return net


def unet_discriminator(torch, config):
    """torch.nn.Module mirroring GlobalDiscriminator: five 5×5 stride-2 conv-BN-ReLU stages, FC, FC 1."""
    nn = torch.nn
    m = config.model
    w, size, momentum = int(m.disc_width), int(config.data.image_size), 1.0 - float(m.bn_momentum)
    layers, cin = [], 3
    for cout in (w, 2 * w, 4 * w, 8 * w, 8 * w):
        layers += [nn.Conv2d(cin, cout, 5, 2, 2, bias=False), nn.BatchNorm2d(cout, eps=1e-3, momentum=momentum), nn.ReLU()]
        cin = cout
    side = size // 32
    net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(cin * side * side, int(m.fc_width)),
                        nn.Linear(int(m.fc_width), 1), nn.Flatten(0))
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.xavier_uniform_(module.weight)
    return net


def unet_twin(torch, config, phase: str) -> Twin:
    """jaxpaint.engine.gan's step for the U-Net in `phase`: G on the filled image and the mask, L_rec (L1,
    hole_weight in the holes) and the mask term, plus in the "gan" phase the adversarial term on the
    composite and D on real and fake. The input fill comes with the batch ("filled"), computed once for
    both frameworks. The VGG perceptual term has no twin."""
    from jaxpaint.methods.unet import uses_perceptual, uses_pose_loss

    if uses_perceptual(config) or uses_pose_loss(config) or config.model.get("pose_condition", False):
        raise ValueError("the U-Net twin has no VGG or pose term; benchmark a config without them "
                         "(--config.loss.perceptual_weight=0)")
    generator = unet_generator(torch, config)
    discriminator = unet_discriminator(torch, config) if phase == "gan" else None
    o, w = config.optim, config.loss
    g_params = list(generator.parameters())
    g_opt = torch.optim.Adam(g_params, lr=o.learning_rate, betas=(o.b1, o.b2))
    d_opt = discriminator and torch.optim.Adam(discriminator.parameters(), lr=o.learning_rate, betas=(o.b1, o.b2))
    softplus = torch.nn.functional.softplus

    def step(filled, image, hole) -> float:
        fake = generator(torch.cat([filled, hole], 1))
        prediction, mask = fake[:, :3], fake[:, 3:]
        weights = 1.0 + (float(w.hole_weight) - 1.0) * hole
        rec = torch.sum(weights * torch.abs(prediction - image)) / (3 * torch.sum(weights))
        g_loss = rec + float(w.mask_weight) * torch.mean((mask - hole) ** 2)
        shown = torch.where(hole > 0, prediction, image)
        if discriminator is not None:
            with frozen_statistics(torch, discriminator):
                g_loss = g_loss + float(w.adversarial_weight) * torch.mean(softplus(-discriminator(shown)))
        g_opt.zero_grad()
        g_loss.backward(inputs=g_params)
        loss = g_loss.item()
        if discriminator is not None:
            real_logits, fake_logits = discriminator(image), discriminator(shown.detach())
            d_loss = torch.mean(softplus(-real_logits)) + torch.mean(softplus(fake_logits))
            d_opt.zero_grad()
            d_loss.backward()
            d_opt.step()
            loss += d_loss.item()
        g_opt.step()
        return loss

    modules = {"generator": generator} | ({"discriminator": discriminator} if discriminator is not None else {})
    return Twin(modules=modules, step=step, batch=lambda host: (
        _nchw(torch, host["filled"]), _nchw(torch, host["image"]), _hole_nchw(torch, host["hole"])))
