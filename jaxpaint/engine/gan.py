"""The generator/discriminator step every GAN method shares, built from the method's own pieces.

A method describes itself with a `GanSpec` (its networks, what the generator sees,
its non-adversarial loss terms and their weights, its optimisers) and gets back the
trainer's contract from `make_method(spec)`: `init_state`, `train_step`, `phase`
and `load_frozen`.

One step, as in the Context Encoder's reference code: one generator forward gives
the fake; the generator is updated on Σ wᵢ·termᵢ, where the adversarial term asks
the current discriminator about the *composite* (known pixels plus the predicted
hole: `spec.show`), and the discriminator is updated on real images against the
same composite with the generator's gradient stopped. Both updates start from the
same state.

Phases are host-chosen and static (`phase(config, step)`), so each phase is one
compiled program: in "g_only" the discriminator is neither run nor updated, and
its parameters, optimiser state and batch statistics pass through unchanged. A
method whose adversarial weight is statically 0 is always in "g_only".

Frozen pretrained networks (VGG features, the pose evaluator) come from
`spec.load_frozen(config)` once on the host and enter the jitted step as an
argument: never optimised, never checkpointed, never baked into the program.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxpaint import losses
from jaxpaint.engine.state import TrainState, create_state
from jaxpaint.ops.holes import composite

GENERATOR, DISCRIMINATOR = "generator", "discriminator"
GENERATOR_EMA = "generator_ema"  # the moving average of the generator's weights, when optim.ema_decay > 0
PHASES = ("g_only", "gan")


def show_composite(config, fake: jax.Array, batch: dict) -> jax.Array:
    """What the discriminator judges: the prediction inside the holes, the real image elsewhere."""
    del config
    return composite(fake, batch["image"], batch["hole"])


def no_frozen(config) -> dict:
    del config
    return {}


@dataclasses.dataclass(frozen=True)
class GanSpec:
    """A GAN method's pieces. Functions take the config first; all but `load_frozen` are traceable.

    generator(config) -> nn.Module, called as module(inputs, train=...)
    discriminator(config) -> nn.Module giving (B,) logits, or None for a method without one
    generator_input(config, batch, key) -> what G sees (masked image and mask, or z)
    terms(config, fake, shown, batch, frozen) -> {name: scalar}: the non-adversarial loss terms
    weights(config, step) -> {name: weight} for every term plus "adv"; Python numbers
        that are 0 skip their term, arrays (schedules of `step`) are data, not recompiles
    optimizers(config) -> {"generator": tx, "discriminator": tx}
    show(config, fake, batch) -> what D judges as fake (default: the composite)
    load_frozen(config) -> pytree of frozen pretrained variables (host, once; default {})
    """

    generator: Callable[[Any], nn.Module]
    discriminator: Callable[[Any], nn.Module | None]
    generator_input: Callable
    terms: Callable
    weights: Callable
    optimizers: Callable
    show: Callable = show_composite
    load_frozen: Callable = no_frozen


# ---------------------------------------------------------------- network application


def split_variables(variables: dict) -> tuple[Any, Any]:
    """(params, batch_stats) of a Flax variables dict; batch_stats is {} for a net without batch norm.
    The state keeps batch_stats itself under the part's name, the layout checkpoints have always had."""
    unknown = set(variables) - {"params", "batch_stats"}
    if unknown:
        raise ValueError(f"the engine keeps params and batch_stats only, not {sorted(unknown)}")
    return variables["params"], variables.get("batch_stats", {})


def apply_net(module: nn.Module, params, batch_stats, inputs, *, train: bool):
    """(outputs, updated batch_stats); the statistics pass through unchanged when not training."""
    variables = {"params": params, **({"batch_stats": batch_stats} if batch_stats else {})}
    if not train or not batch_stats:
        return module.apply(variables, inputs, train=train), batch_stats
    outputs, updates = module.apply(variables, inputs, train=True, mutable=["batch_stats"])
    return outputs, updates["batch_stats"]


def ema_decay(config) -> float:
    """optim.ema_decay: 0 (the default) keeps no average; d in (0, 1) keeps ema ← d·ema + (1 − d)·params."""
    optim = config.get("optim", None) or {}
    return float(optim.get("ema_decay", 0.0) or 0.0)


def inference_params(state: TrainState):
    """The generator weights inference uses: the moving average when the run keeps one."""
    return state.params.get(GENERATOR_EMA, state.params[GENERATOR])


def generate(spec: GanSpec, config, state: TrainState, batch: dict, key: jax.Array, *, train: bool = False):
    """The generator's raw output for a batch (inference mode by default, with `inference_params`; the
    batch statistics are the trained generator's running averages either way)."""
    inputs = spec.generator_input(config, batch, key)
    params = state.params[GENERATOR] if train else inference_params(state)
    fake, _ = apply_net(spec.generator(config), params, state.model_state[GENERATOR], inputs, train=train)
    return fake


# ---------------------------------------------------------------- phases


def adversarial_possible(spec: GanSpec, config) -> bool:
    """False when the method has no discriminator or its adversarial weight is statically 0."""
    if spec.discriminator(config) is None:
        return False
    return not losses.is_static_zero(spec.weights(config, 0).get("adv", 0.0))


def g_only_steps(config) -> int:
    """Steps of generator-only training before the GAN starts (config.schedule.g_only_steps, set by the
    trainer from schedule.g_only_epochs when the config gives epochs)."""
    schedule = config.get("schedule", None) or {}
    return int(schedule.get("g_only_steps", 0) or 0)


def phase_at(spec: GanSpec, config, step: int) -> str:
    """The phase of the update that takes the state from `step` to `step + 1`: a pure function of the step."""
    if not adversarial_possible(spec, config) or step < g_only_steps(config):
        return "g_only"
    return "gan"


# ---------------------------------------------------------------- state and step


def init_key(key: jax.Array) -> jax.Array:
    """An "rbg" key derived from `key` for drawing initial weights.

    XLA on CPU compiles threefry sampling for every weight tensor slowly (about 25 s
    for a tiny Context Encoder against 4 s with rbg); the draw stays a pure function of `key`.
    """
    return jax.random.wrap_key_data(jax.random.bits(key, (4,), jnp.uint32), impl="rbg")


def init_state(spec: GanSpec, config, key: jax.Array, batch: dict) -> TrainState:
    g_key, d_key, state_key = jax.random.split(key, 3)
    inputs = spec.generator_input(config, batch, jax.random.fold_in(g_key, 1))
    g_params, g_state = split_variables(spec.generator(config).init(init_key(g_key), inputs, train=False))
    params, model_state = {GENERATOR: g_params}, {GENERATOR: g_state}
    discriminator = spec.discriminator(config)
    if discriminator is not None:
        params[DISCRIMINATOR], model_state[DISCRIMINATOR] = split_variables(
            discriminator.init(init_key(d_key), batch["image"], train=False))
    txs = spec.optimizers(config)
    opt_state = {name: txs[name].init(p) for name, p in params.items()}
    if ema_decay(config):
        # A copy, not the same arrays: a step that donates the state must not get one buffer twice.
        params[GENERATOR_EMA] = jax.tree.map(jnp.copy, g_params)
    return create_state(params, opt_state, state_key, model_state)


def check_batch(batch: dict) -> None:
    """The step's input contract, checked when the step is traced: float32 (B, H, W, 3) images in [-1, 1]
    and, where the method has holes, bool (B, H, W) masks."""
    chex.assert_rank(batch["image"], 4)
    chex.assert_type(batch["image"], jnp.float32)
    if "hole" in batch:
        chex.assert_type(batch["hole"], bool)
        chex.assert_shape(batch["hole"], batch["image"].shape[:3])


def train_step(spec: GanSpec, config, state: TrainState, batch: dict, frozen=None, *, phase: str = "gan"):
    """One update; returns (state, metrics). `phase` is static: "g_only" or "gan"."""
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
    check_batch(batch)
    frozen = {} if frozen is None else frozen
    params, stats = state.params, state.model_state
    weights = spec.weights(config, state.step)
    adversarial = phase == "gan" and adversarial_possible(spec, config)
    discriminator = spec.discriminator(config) if adversarial else None
    inputs = spec.generator_input(config, batch, state.step_key())

    def generator_objective(g_params):
        fake, g_stats = apply_net(spec.generator(config), g_params, stats[GENERATOR], inputs, train=True)
        shown = spec.show(config, fake, batch)
        terms = dict(spec.terms(config, fake, shown, batch, frozen))
        if adversarial:
            logits, _ = apply_net(discriminator, params[DISCRIMINATOR], stats[DISCRIMINATOR], shown, train=True)
            terms["adv"] = losses.generator_adversarial_loss(logits)
        total, metrics = losses.compose(terms, weights)
        return total, (shown, g_stats, metrics)

    (_, (shown, g_stats, metrics)), g_grads = jax.value_and_grad(generator_objective, has_aux=True)(params[GENERATOR])
    grads, new_stats = {GENERATOR: g_grads}, {**stats, GENERATOR: g_stats}

    if adversarial:
        fake = jax.lax.stop_gradient(shown)

        def discriminator_objective(d_params):
            # Real and fake go through D separately, each normalised by its own batch statistics.
            real_logits, d_stats = apply_net(discriminator, d_params, stats[DISCRIMINATOR], batch["image"], train=True)
            fake_logits, d_stats = apply_net(discriminator, d_params, d_stats, fake, train=True)
            return losses.discriminator_loss(real_logits, fake_logits), (d_stats, real_logits, fake_logits)

        (disc_loss, (d_stats, real_logits, fake_logits)), grads[DISCRIMINATOR] = jax.value_and_grad(
            discriminator_objective, has_aux=True)(params[DISCRIMINATOR])
        new_stats[DISCRIMINATOR] = d_stats
        metrics.update(disc_loss=disc_loss, d_real=jnp.mean(jax.nn.sigmoid(real_logits)),
                       d_fake=jnp.mean(jax.nn.sigmoid(fake_logits)))

    txs = spec.optimizers(config)
    new_params, new_opt = dict(params), dict(state.opt_state)
    for name, part_grads in grads.items():
        updates, new_opt[name] = txs[name].update(part_grads, state.opt_state[name], params[name])
        new_params[name] = optax.apply_updates(params[name], updates)
    if GENERATOR_EMA in params:
        new_params[GENERATOR_EMA] = optax.incremental_update(new_params[GENERATOR], params[GENERATOR_EMA],
                                                             1.0 - ema_decay(config))
    new_state = state.replace(step=state.step + 1, params=new_params, opt_state=new_opt, model_state=new_stats)
    return new_state, metrics


@dataclasses.dataclass(frozen=True)
class GanMethod:
    """The trainer's contract for a spec; a method module re-exports these as module-level functions."""

    spec: GanSpec

    def init_state(self, config, key, batch) -> TrainState:
        return init_state(self.spec, config, key, batch)

    def train_step(self, config, state, batch, frozen=None, *, phase: str = "gan"):
        return train_step(self.spec, config, state, batch, frozen, phase=phase)

    def phase(self, config, step: int) -> str:
        return phase_at(self.spec, config, step)

    def load_frozen(self, config):
        return self.spec.load_frozen(config)


def make_method(spec: GanSpec) -> GanMethod:
    return GanMethod(spec)
