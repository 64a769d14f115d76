"""Loading ml_collections configs: `path/to/file.py:variant` plus `--config.key=value` overrides, and the
ranges every numeric field must lie in.

Overrides follow ml_collections.config_flags: `--config.a.b=value` (or `--config.a.b value`) sets an
existing field, and the value is parsed for that field's type (a string field takes the text as it is, a
bool takes true/false, an int field refuses 1.5). config_flags itself is not used because it registers
absl flags in a process-wide registry parsed from sys.argv, while jaxpaint parses with argparse and loads
configs many times in one process (the trainer, `run`, tests).
"""

from __future__ import annotations

import ast
import copy
import difflib
import importlib.util
import math
import sys
from pathlib import Path

import ml_collections

from jaxpaint.errors import JaxpaintError

CONFIG_DIR = Path(__file__).resolve().parents[1] / "experiments" / "configs"

# Allowed ranges of numeric config fields: dotted key -> (kind, lowest, highest); None = unbounded.
# A field absent from a config is not checked (methods use different fields).
RANGES: dict[str, tuple[str, float | None, float | None]] = {
    "seed": ("int", 0, None),
    "batch_size": ("int", 1, None),
    "num_steps": ("int", 1, None),
    "log_every": ("int", 1, None),
    "checkpoint_every": ("int", 1, None),
    "eval_every": ("int", 0, None),        # 0: only at the end
    "preview_every": ("int", 0, None),     # 0: only at the end
    "eval_batches": ("int", 1, None),
    "keep_checkpoints": ("int", 1, None),
    "loader_threads": ("int", 1, None),
    "prefetch_batches": ("int", 1, None),
    "data.image_size": ("int", 64, None),  # block masks need at least 64 px (jaxpaint.data.builder)
    "model.width": ("int", 1, None),
    "model.disc_width": ("int", 1, None),
    "model.bottleneck": ("int", 1, None),
    "model.latent_dim": ("int", 1, None),
    "search.iterations": ("int", 1, None),
    "search.restarts": ("int", 1, None),
    "search.prior_weight": ("float", 0, None),
    "model.feature_size": ("int", 1, None),
    "model.num_stacks": ("int", 1, None),
    "model.features": ("int", 1, None),
    "model.depth": ("int", 1, None),
    "model.input_size": ("int", 16, None),
    "model.sigma": ("float", 1e-6, None),
    "model.peak_threshold": ("float", 0, 1),
    "model.backbone_scale": ("int", 1, 4),
    "loss.lambda_rec": ("float", 0, 1),
    "loss.overlap": ("int", 0, None),
    "loss.overlap_weight": ("float", 0, None),
    "loss.pose_weight": ("float", 0, None),
    "loss.ssim_weight": ("float", 0, None),
    "model.fourier_blocks": ("int", 0, None),
    "optim.ema_decay": ("float", 0, 1),
    "optim.learning_rate": ("float", 1e-12, None),
    "optim.final_lr_fraction": ("float", 0, 1),
    "optim.b1": ("float", 0, 1),
    "optim.b2": ("float", 0, 1),
    "optim.generator_lr_scale": ("float", 1e-12, None),
    "augment.rotate_degrees": ("float", 0, 180),
    "schedule.g_only_epochs": ("float", 0, None),
    "schedule.g_only_steps": ("int", 0, None),
    # patch synthesis (jaxpaint.methods.patch_synthesis.default_config)
    "levels": ("int", 1, None),
    "iterations": ("int", 1, None),
    "start_size": ("int", 1, None),
    "patch_size": ("int", 1, None),
    "content_weight": ("float", 0, None),
    "texture_weight": ("float", 0, None),
    "tv_weight": ("float", 0, None),
}


def resolve_config_path(spec: str) -> tuple[Path, str | None]:
    """Splits `file.py:variant`; a bare name such as `hourglass` means experiments/configs/hourglass.py."""
    path_part, _, variant = spec.partition(":")
    path = Path(path_part)
    if not path.suffix:
        path = CONFIG_DIR / f"{path_part}.py"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.py")))
        raise JaxpaintError(f"config file {path} does not exist (from --config {spec!r}; built-in configs: {known})")
    return path, variant or None


def import_file(path: Path, kind: str, function: str):
    """Imports a user's Python file (a config, sweep or suite) that must define `function`; any failure is
    one error naming the file."""
    module_spec = importlib.util.spec_from_file_location(f"jaxpaint_{kind}_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    # Registered so that dataclasses (e.g. Flax modules) defined in the file can resolve their module.
    sys.modules[module_spec.name] = module
    try:
        module_spec.loader.exec_module(module)
    except SyntaxError as err:
        raise JaxpaintError(f"{kind} file {path}, line {err.lineno}: syntax error: {err.msg}") from None
    except Exception as err:  # the file is user code: any failure is a problem with that file
        raise JaxpaintError(f"{kind} file {path} fails on import: {type(err).__name__}: {err}") from None
    if not callable(getattr(module, function, None)):
        raise JaxpaintError(f"{kind} file {path} defines no {function}() function")
    return module


def load_config(spec: str, overrides: list[str] | tuple[str, ...] = ()) -> ml_collections.ConfigDict:
    """Imports the config file, calls get_config(variant), applies overrides and checks the ranges."""
    path, variant = resolve_config_path(spec)
    module = import_file(path, "config", "get_config")
    try:
        config = module.get_config(variant) if variant else module.get_config()
    except (KeyError, ValueError) as err:
        message = str(err.args[0] if err.args else err)
        if repr(variant) not in message:
            message = f"unknown variant {variant!r} ({message})"
        raise JaxpaintError(f"config {path}: {message}") from None
    except Exception as err:
        raise JaxpaintError(f"config {path}: get_config({variant!r}) fails: {type(err).__name__}: {err}") from None
    if not isinstance(config, ml_collections.ConfigDict):
        raise JaxpaintError(f"config {path}: get_config() returned {type(config).__name__}, expected a ConfigDict")
    config = apply_overrides(config, overrides)
    check_config(config, f"config {spec}")
    return config


def _add_missing(config: ml_collections.ConfigDict, defaults) -> None:
    for key, value in defaults.items():
        if key not in config:
            with config.ignore_type():
                config[key] = value
        elif isinstance(value, (ml_collections.ConfigDict, dict)) and isinstance(config[key], (ml_collections.ConfigDict, dict)):
            _add_missing(config[key], value)


def with_later_fields(saved: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """A saved run's config (a copy) plus the fields its method's config file gained after the run was
    saved, at the file's `base_config()` values.

    A field added to a method keeps, at its base value, the behaviour runs had before it existed, so an
    older run or a released model reads the same; the fields are there so that inference overrides
    (`--config.model.flip_test=True`) can set them. Without such a file the config is returned as it is.
    """
    config = copy.deepcopy(saved)
    path = CONFIG_DIR / f"{saved.get('method')}.py"
    if not path.is_file():
        return config
    base = getattr(import_file(path, "config", "get_config"), "base_config", None)
    if callable(base):
        _add_missing(config, base())
    return config


# ---------------------------------------------------------------- overrides


def dotted_keys(config, prefix: str = "") -> list[str]:
    """Every field and group of the config as a dotted key ("loss", "loss.overlap", ...)."""
    keys = []
    for name in config.keys():
        key = f"{prefix}{name}"
        keys.append(key)
        value = config[name]
        if isinstance(value, (ml_collections.ConfigDict, dict)):
            keys.extend(dotted_keys(value, key + "."))
    return keys


def unknown_key_message(config, key: str) -> str:
    close = difflib.get_close_matches(key, dotted_keys(config), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"the config has no field {key!r}{hint}"


def split_overrides(items) -> list[tuple[str, str, str]]:
    """(text as given, dotted key, raw value) of each override; `--config.k=v` and `--config.k v` both work."""
    items, out, i = list(items), [], 0
    while i < len(items):
        item = items[i]
        if not item.startswith("--config."):
            raise JaxpaintError(f"unexpected argument {item!r}; config overrides look like --config.key=value")
        if "=" in item:
            key, _, raw = item[len("--config."):].partition("=")
            out.append((item, key, raw))
            i += 1
        elif i + 1 < len(items) and not items[i + 1].startswith("--"):
            out.append((f"{item} {items[i + 1]}", item[len("--config."):], items[i + 1]))
            i += 2
        else:
            raise JaxpaintError(f"override {item!r} has no value; expected {item}=VALUE")
    return out


def _literal(raw: str):
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return raw


def parse_value(raw: str, old, where: str):
    """The override's value parsed for the type of the field it replaces (config_flags' rules)."""
    kind = type(old).__name__
    if isinstance(old, bool):
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise JaxpaintError(f"{where}: expected a bool (true or false), got {raw!r}")
    if isinstance(old, str):
        value = _literal(raw)
        return value if isinstance(value, str) else raw  # a quoted string loses its quotes; anything else is text
    value = _literal(raw)
    if isinstance(old, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise JaxpaintError(f"{where}: expected an int, got {raw!r}")
        return value
    if isinstance(old, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise JaxpaintError(f"{where}: expected a number, got {raw!r}")
        return float(value)
    if isinstance(old, (tuple, list)):
        if not isinstance(value, (tuple, list)):
            raise JaxpaintError(f"{where}: expected a {kind} such as (1, 2), got {raw!r}")
        if old and len(value) != len(old) and all(isinstance(x, (int, float)) for x in old):
            raise JaxpaintError(f"{where}: expected {len(old)} values like {tuple(old)}, got {len(value)}")
        return type(old)(float(x) if isinstance(x, int) and any(isinstance(o, float) for o in old) else x for x in value)
    if isinstance(old, (ml_collections.ConfigDict, dict)):
        raise JaxpaintError(f"{where}: this is a group of fields, not a field; set one of its fields")
    return value  # a None field takes any literal, else the text


def apply_overrides(config: ml_collections.ConfigDict, overrides) -> ml_collections.ConfigDict:
    """Applies `--config.a.b=value` strings to a copy of the config; only existing fields can be set."""
    config = copy.deepcopy(config)  # the caller's stays as it was, its groups included
    for text, key, raw in split_overrides(overrides):
        parent = config
        *parents, leaf = key.split(".")
        for part in parents:
            child = parent.get(part) if hasattr(parent, "get") else None
            if not isinstance(child, (ml_collections.ConfigDict, dict)):
                raise JaxpaintError(f"override {text!r}: {unknown_key_message(config, key)}")
            parent = child
        if leaf not in parent:
            raise JaxpaintError(f"override {text!r}: {unknown_key_message(config, key)}")
        value = parse_value(raw, parent[leaf], f"override {text!r} (field {key})")
        try:
            with config.ignore_type():
                parent[leaf] = value
        except (TypeError, ValueError) as err:
            raise JaxpaintError(f"override {text!r}: {err}") from None
    return config


# ---------------------------------------------------------------- ranges


def _range_text(kind: str, low, high) -> str:
    noun = "an integer" if kind == "int" else "a number"
    if low is not None and high is not None:
        return f"{noun} in [{low:g}, {high:g}]"
    return f"{noun} >= {low:g}" if low is not None else f"{noun} <= {high:g}"


def lookup(config, key: str, default=None):
    node = config
    for part in key.split("."):
        if not hasattr(node, "get") or part not in node:
            return default
        node = node[part]
    return node


def range_problem(key: str, value) -> str | None:
    """Why `value` is out of the range of field `key` (None when it is fine or the key has no range)."""
    if key not in RANGES or value is None:
        return None
    kind, low, high = RANGES[key]
    ok_type = isinstance(value, int) if kind == "int" else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or (kind == "float" and not math.isfinite(value)):
        return f"{key} = {value!r}; expected {_range_text(kind, low, high)}"
    if (low is not None and value < low) or (high is not None and value > high):
        return f"{key} = {value!r}; expected {_range_text(kind, low, high)}"
    return None


def check_config(config, where: str = "config") -> None:
    """Raises JaxpaintError naming the first field out of its range (see RANGES)."""
    if not isinstance(lookup(config, "method"), str):
        raise JaxpaintError(f"{where}: the field 'method' is missing or not a string")
    for key in RANGES:
        problem = range_problem(key, lookup(config, key))
        if problem:
            raise JaxpaintError(f"{where}: {problem}")
