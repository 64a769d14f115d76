"""Methods by name. A method is a module with `init_state` and `train_step` (when it trains), optional
`phase`, `load_frozen`, `eval_step` and `preview`, and `make_inpainter` (when it inpaints);
see docs/DESIGN.md. The pose evaluator trains on the same trainer but is not an inpainting method."""

from __future__ import annotations

import importlib
from types import ModuleType

from jaxpaint.errors import JaxpaintError

INPAINTING_METHODS = {
    "context_encoder": "jaxpaint.methods.context_encoder",
    "unet": "jaxpaint.methods.unet",
    "semantic": "jaxpaint.methods.semantic",
    "patch_synthesis": "jaxpaint.methods.patch_synthesis",
    "holes": "jaxpaint.methods.baselines",
    "diffusion": "jaxpaint.methods.baselines",
}
POSE_METHODS = {"hourglass": "jaxpaint.methods.pose"}
TRAINABLE_METHODS = {**INPAINTING_METHODS, **POSE_METHODS}


def get_method(name: str) -> ModuleType:
    """The module of any method the trainer runs. A dotted module path is accepted too (tests register toy
    methods that way)."""
    module_name = TRAINABLE_METHODS.get(name, name if "." in name else None)
    if module_name is None:
        raise JaxpaintError(f"unknown method {name!r}; known methods: {', '.join(sorted(TRAINABLE_METHODS))}")
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and module_name.startswith(err.name):
            raise JaxpaintError(f"method {name!r}: module {module_name} is not available ({err})") from None
        raise


def get_inpainting_method(name: str) -> ModuleType:
    """The module of an inpainting method; a pose evaluator or an unknown name is a clear error."""
    if name in POSE_METHODS:
        raise JaxpaintError(f"{name!r} is a pose evaluator, not an inpainting method; give its workdir as "
                            f"--pose-model. Inpainting methods: {', '.join(sorted(INPAINTING_METHODS))}")
    if name not in INPAINTING_METHODS and "." not in name:
        raise JaxpaintError(f"unknown inpainting method {name!r}; known: {', '.join(sorted(INPAINTING_METHODS))}")
    module = get_method(name)
    if not hasattr(module, "make_inpainter"):
        raise JaxpaintError(f"method {name!r} does not inpaint (it has no make_inpainter)")
    return module


def is_trainable(module: ModuleType) -> bool:
    return hasattr(module, "train_step") and hasattr(module, "init_state")
