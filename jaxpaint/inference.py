"""Inpainters ready to use: a trained run restored from its workdir, or a method without training."""

from __future__ import annotations

import ml_collections

from jaxpaint.config import CONFIG_DIR, load_config, with_later_fields
from jaxpaint.engine.inpaint import Inpainter
from jaxpaint.errors import JaxpaintError
from jaxpaint.engine.checkpoint import load_config_json, restore_state
from jaxpaint.methods import get_inpainting_method, get_method, is_trainable


def saved_config(workdir) -> ml_collections.ConfigDict:
    """The run's saved config with the fields its method gained since (`with_later_fields`), for inference."""
    return with_later_fields(load_config_json(workdir))


def restore_run(workdir) -> tuple[ml_collections.ConfigDict, object]:
    """The config (`saved_config`) and latest TrainState of the training run in `workdir`, whatever its method."""
    config, state = restore_state(workdir, get_method(load_config_json(workdir).method).init_state)
    return with_later_fields(config), state


def default_config(name: str) -> ml_collections.ConfigDict:
    """experiments/configs/<name>.py's default config when there is one, else just the method name."""
    if (CONFIG_DIR / f"{name}.py").is_file():
        return load_config(name)
    return ml_collections.ConfigDict({"method": name})


def content_settings(module, config) -> ml_collections.ConfigDict:
    """The module's default config with the fields of `config` that it knows."""
    settings = module.default_config()
    settings.update({k: v for k, v in dict(config or {}).items() if k in settings})
    return settings


def content_inpainter(settings) -> Inpainter:
    """The first guess of `settings.content_method`, restored from `settings.content_workdir` when it trains.

    Without a method name the workdir's run names it (e.g. a content network, which is a
    `context_encoder` run); without either it is the diffusion fill.
    """
    method, workdir = settings.get("content_method"), settings.get("content_workdir")
    if not method and workdir:
        method = load_config_json(workdir).get("method")
        if not method:
            raise JaxpaintError(f"content_workdir {workdir}: its config.json names no method")
    return load_inpainter(method or "diffusion", workdir)


def content_and_full_inpainters(module, config) -> tuple[Inpainter, Inpainter]:
    """(the first guess alone, the method refining it) for a method that needs content (patch synthesis)."""
    settings = content_settings(module, config)
    content = content_inpainter(settings)
    return content, module.make_inpainter(settings, content)


def content_method_inpainter(module, config) -> Inpainter:
    """A method that refines another's first guess (patch synthesis): the guess's inpainter is built from
    `content_method` and `content_workdir` in the config (the module's defaults where absent)."""
    return content_and_full_inpainters(module, config)[1]


def load_inpainter(name: str, workdir=None, config=None) -> Inpainter:
    """The method's inpainter: `(uint8 (B,S,S,3), bool (B,S,S)) -> uint8 (B,S,S,3)`.

    A trainable method is restored from `workdir` (its config.json and latest
    checkpoint); `config`, when given, replaces the saved config. Methods without
    training (holes, diffusion) get `make_inpainter(config, None)`.
    """
    module = get_inpainting_method(name)
    if getattr(module, "NEEDS_CONTENT", False):
        return content_method_inpainter(module, config)
    if not is_trainable(module):
        return module.make_inpainter(config if config is not None else default_config(name), None)
    if workdir is None:
        raise JaxpaintError(f"method {name!r} is trained: give the workdir of its training run")
    saved_config, state = restore_run(workdir)
    if saved_config.method != name:
        raise JaxpaintError(f"{workdir} holds a {saved_config.method!r} run, not {name!r}")
    return module.make_inpainter(config if config is not None else saved_config, state)
