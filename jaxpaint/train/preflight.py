"""Checks a training run makes before it writes anything: the config's ranges, the workdir it resumes,
and the data it trains on. A run is what its workdir says it is: config.json records the method and the
model's shape, and a config that would not restore onto them is refused with both values named.
"""

from __future__ import annotations

import json
from pathlib import Path

import ml_collections
import numpy as np

from jaxpaint.config import check_config, lookup
from jaxpaint.errors import JaxpaintError
from jaxpaint.engine.checkpoint import CHECKPOINT_DIR, CONFIG_FILE, is_weights_folder, load_config_json

# Fields that fix the shapes of a run's parameters: a resumed run must keep them.
SHAPE_GROUPS = ("model",)
SHAPE_FIELDS = ("data.image_size",)


def _plain(value):
    """JSON-normal form (tuples become lists), so a saved config and a live one compare equal."""
    if isinstance(value, ml_collections.ConfigDict):
        value = value.to_dict()
    return json.loads(json.dumps(value, default=str))


def _flatten(value, prefix: str) -> dict[str, object]:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}"))
        return out
    return {prefix: value}


def shape_fields(config) -> dict[str, object]:
    """The dotted fields that fix the parameters' shapes, with their values."""
    fields = {}
    for group in SHAPE_GROUPS:
        fields.update(_flatten(_plain(lookup(config, group, {})), group))
    for key in SHAPE_FIELDS:
        fields[key] = _plain(lookup(config, key))
    return fields


def check_workdir(config, workdir: Path) -> None:
    """Refuses a workdir that is a file, or that holds a run of another method or model shape."""
    workdir = Path(workdir)
    if workdir.exists() and not workdir.is_dir():
        raise JaxpaintError(f"workdir {workdir} is a file; give a folder for the run")
    if is_weights_folder(workdir):
        raise JaxpaintError(f"workdir {workdir} is a released model's folder, not a training run; give a new --workdir")
    if not (workdir / CONFIG_FILE).is_file():
        return
    saved = load_config_json(workdir)
    if saved.method != config.method:
        raise JaxpaintError(
            f"workdir {workdir} holds a {saved.method!r} run, and the config trains {config.method!r}; "
            "give a new --workdir (the run there is left as it is)")
    before, now = shape_fields(saved), shape_fields(config)
    # A field the run's config.json lacks was added to the project later; its off value (False, None,
    # 0, "") is what the run was built with.
    changed = sorted(k for k in set(before) | set(now)
                     if before.get(k) != now.get(k) and not (k not in before and not now.get(k)))
    if changed:
        listed = "; ".join(f"{k}: {before.get(k)!r} in the run, {now.get(k)!r} in the config" for k in changed)
        raise JaxpaintError(
            f"workdir {workdir} holds a {saved.method!r} run of another model shape ({listed}); resume it with "
            f"its own config ({workdir / CONFIG_FILE}) or give a new --workdir")


def check_warm_start(config, source: Path) -> None:
    """The run a new one starts from (`train --warm-start`) exists and trains the same method."""
    if not (source / CONFIG_FILE).is_file():
        raise JaxpaintError(f"--warm-start {source}: no training run there (no {CONFIG_FILE})")
    saved = load_config_json(source)
    if saved.method != config.method:
        raise JaxpaintError(f"--warm-start {source}: it is a {saved.method!r} run, and the config trains "
                            f"{config.method!r}; start from a run of the same method")
    checkpoints = source / CHECKPOINT_DIR
    if not checkpoints.is_dir() or not any(d.name.isdigit() for d in checkpoints.iterdir()):
        raise JaxpaintError(f"--warm-start {source}: the run has no checkpoint yet; train it first")


def check_model_size(config) -> None:
    """A model that halves the image down to `model.feature_size` needs image_size = feature_size · 2^k."""
    from jaxpaint.models.layers import num_stages

    feature_size, image_size = lookup(config, "model.feature_size"), lookup(config, "data.image_size")
    if feature_size is None or image_size is None:
        return
    try:
        num_stages(image_size, feature_size)
    except ValueError:
        raise JaxpaintError(
            f"config: data.image_size = {image_size} is not model.feature_size = {feature_size} times a power of "
            f"two (at least 2); use e.g. {feature_size * 16}, {feature_size * 32} or {feature_size * 64}") from None


def check_config_and_workdir(config, workdir) -> None:
    """All that can be checked before the data is opened."""
    check_config(config, "config")
    check_model_size(config)
    check_workdir(config, Path(workdir))


def example_size(source) -> tuple[int, int] | None:
    """(height, width) of the first example's image; None for an empty source."""
    if len(source) == 0:
        return None
    return tuple(np.asarray(source[0]["image"]).shape[:2])


def check_data(config, train_source, val_source, *, validates: bool = True) -> None:
    """The splits hold at least one batch (validation too when the method `validates`), and the images have
    the size the model is built for."""
    from jaxpaint.data.loader import build_command

    data = config.data
    name = data.get("dataset", "") or data.get("examples_fn", "")
    for split, source, needed in ((data.train_split, train_source, True), (data.val_split, val_source, validates)):
        if needed and len(source) < int(config.batch_size):
            raise JaxpaintError(f"the {split!r} split of dataset {name!r} has {len(source)} examples, fewer than "
                                f"one batch (batch_size = {config.batch_size}); lower --config.batch_size or build "
                                "a larger dataset")
    expected = data.get("image_size", None)
    size = example_size(train_source)
    if expected is None or size == (expected, expected):
        return
    fix = ""
    if data.get("dataset"):
        built = data.dataset
        parts = built.split("_")
        if len(parts) >= 2 and parts[1].isdigit():
            parts[1] = str(expected)
            fix = (f"; build a {expected} px dataset with `{build_command('_'.join(parts), data.data_dir)}` and "
                   f"train with --config.data.dataset={'_'.join(parts)}")
    raise JaxpaintError(
        f"dataset {name!r} holds {size[1]}x{size[0]} px images but the config's model is built for "
        f"data.image_size = {expected} px{fix}")
