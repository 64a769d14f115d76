"""Loading ml_collections configs: `path/to/file.py:variant` plus `--config.key=value` overrides."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import ml_collections

from jaxpaint.errors import JaxpaintError

CONFIG_DIR = Path(__file__).resolve().parents[1] / "experiments" / "configs"


def resolve_config_path(spec: str) -> tuple[Path, str | None]:
    """Splits `file.py:variant`; a bare name such as `hourglass` means experiments/configs/hourglass.py."""
    path_part, _, variant = spec.partition(":")
    path = Path(path_part)
    if not path.suffix:
        path = CONFIG_DIR / f"{path_part}.py"
    if not path.is_file():
        raise JaxpaintError(f"config file {path} does not exist (from --config {spec!r})")
    return path, variant or None


def load_config(spec: str, overrides: list[str] | tuple[str, ...] = ()) -> ml_collections.ConfigDict:
    """Imports the config file, calls get_config(variant) and applies overrides."""
    path, variant = resolve_config_path(spec)
    module_spec = importlib.util.spec_from_file_location(f"jaxpaint_config_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    # Registered so that dataclasses (e.g. Flax modules) defined in a config file can resolve their module.
    sys.modules[module_spec.name] = module
    module_spec.loader.exec_module(module)
    try:
        config = module.get_config(variant) if variant else module.get_config()
    except (KeyError, ValueError) as err:
        raise JaxpaintError(f"config {path}: unknown variant {variant!r} ({err})") from None
    return apply_overrides(config, overrides)


def apply_overrides(config: ml_collections.ConfigDict, overrides) -> ml_collections.ConfigDict:
    """Applies `--config.a.b=value` strings; values are Python literals, else strings."""
    config = ml_collections.ConfigDict(config)  # a copy, the caller's stays as it was
    for item in overrides:
        if not item.startswith("--config.") or "=" not in item:
            raise JaxpaintError(f"bad override {item!r}; expected --config.key=value")
        key, _, raw = item[len("--config."):].partition("=")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        try:
            parent = config
            *parents, leaf = key.split(".")
            for part in parents:
                parent = parent[part]
            old = parent[leaf]
            if isinstance(old, float) and isinstance(value, int):
                value = float(value)
            parent[leaf] = value
        except (KeyError, AttributeError):
            raise JaxpaintError(f"override {item!r}: the config has no field {key!r}") from None
        except TypeError as err:
            raise JaxpaintError(f"override {item!r}: {err}") from None
    return config
