"""jaxpaint: semantic inpainting of images of people in JAX/Flax."""

import os

__version__ = "0.1.0"

# XLA:CPU hands each convolution to YNNPACK by default, which ran the models' stride-1
# convolutions on one core; with it off they use all cores (+31-53% on the Context
# Encoder's train step on 2 cores). jaxlib 0.10.2 (pinned) knows the flag; XLA aborts
# on flags it does not know. Read when jax initialises its backend, so it is set here,
# before any jaxpaint module imports jax. README: "Speed on CPU".
DEFAULT_XLA_FLAGS = {"--xla_cpu_experimental_ynn_fusion_type": "-individual_convolution"}


def with_default_xla_flags(xla_flags: str) -> str:
    """XLA_FLAGS with each of DEFAULT_XLA_FLAGS appended unless the user already set that flag."""
    given = {token.split("=", 1)[0] for token in xla_flags.split()}
    added = [f"{name}={value}" for name, value in DEFAULT_XLA_FLAGS.items() if name not in given]
    return " ".join([xla_flags.strip(), *added]).strip()


os.environ["XLA_FLAGS"] = with_default_xla_flags(os.environ.get("XLA_FLAGS", ""))
