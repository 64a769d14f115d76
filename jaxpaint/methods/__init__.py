"""Methods by name. Each is a module with `init_state`, `train_step` (trainable methods),
optional `eval_step` and `preview`, and `make_inpainter`; see jaxpaint/train/state.py."""

from __future__ import annotations

import importlib
from types import ModuleType

from jaxpaint.errors import JaxpaintError

METHODS = {
    "context_encoder": "jaxpaint.methods.context_encoder",
    "hourglass": "jaxpaint.methods.pose",
    "holes": "jaxpaint.methods.baselines",
    "diffusion": "jaxpaint.methods.baselines",
}


def get_method(name: str) -> ModuleType:
    """The method's module. A dotted module path is accepted too (tests register toy methods that way)."""
    module_name = METHODS.get(name, name if "." in name else None)
    if module_name is None:
        raise JaxpaintError(f"unknown method {name!r}; known methods: {', '.join(sorted(METHODS))}")
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and module_name.startswith(err.name):
            raise JaxpaintError(f"method {name!r}: module {module_name} is not available ({err})") from None
        raise


def is_trainable(module: ModuleType) -> bool:
    return hasattr(module, "train_step") and hasattr(module, "init_state")


def default_config(name: str):
    """experiments/configs/<name>.py's default config when there is one, else just the method name."""
    import ml_collections

    from jaxpaint.config import CONFIG_DIR, load_config

    if (CONFIG_DIR / f"{name}.py").is_file():
        return load_config(name)
    return ml_collections.ConfigDict({"method": name})


def load_inpainter(name: str, workdir=None, config=None):
    """The method's inpainter: `(uint8 (B,S,S,3), bool (B,S,S)) -> uint8 (B,S,S,3)`.

    A trainable method is restored from `workdir` (its config.json and latest
    checkpoint); `config`, when given, replaces the saved config. Methods without
    training (holes, diffusion) get `make_inpainter(config, None)`.
    """
    module = get_method(name)
    if not is_trainable(module):
        return module.make_inpainter(config if config is not None else default_config(name), None)
    if workdir is None:
        raise JaxpaintError(f"method {name!r} is trained: give the workdir of its training run")
    from jaxpaint.train.checkpoint import restore_run

    saved_config, state = restore_run(workdir)
    return module.make_inpainter(config if config is not None else saved_config, state)
