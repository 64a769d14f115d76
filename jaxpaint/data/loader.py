"""Batches for training and evaluation: grain over a built split (or any sequence of examples).

`open_split` opens one split of a built `jaxpaint` TFDS dataset as a random-access
source; `batch_dataset` turns any random-access sequence of examples into a
`grain.MapDataset` whose element i is batch i in the layout of docs/DESIGN.md.

Batch i is a pure function of (seed, i): training resumes by index, with no
iterator state to save. With shuffle=True the examples are reshuffled every epoch
and the dataset repeats without end; with shuffle=False it is one ordered pass.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from jaxpaint.data.joints import NUM_SLOTS
from jaxpaint.errors import JaxpaintError

DATASET_NAME = "jaxpaint"
MAX_BLOCKS = 10
JOINT_KEYS = ("xy", "present", "visible", "derived")
# Per-example arrays a method computes once before training (WithArrays) and batches carry as they are:
# an input fill, a pose network's frozen backbone features (named after their VGG-16 layer), and a teacher's
# heatmaps for a distilled pose network.
VGG16_LAYERS = tuple(f"relu{block}_{i}" for block, convs in enumerate((2, 2, 3, 3, 3), 1) for i in range(1, convs + 1))
PRECOMPUTED_KEYS = ("filled", "teacher_heatmaps") + VGG16_LAYERS
VERSION_NAME = re.compile(r"^\d+\.\d+\.\d+$")


def dataset_dir(data_dir: str | Path, config_name: str) -> Path:
    """Where TFDS keeps one config of the dataset: DATA_DIR/jaxpaint/CONFIG."""
    return Path(data_dir) / DATASET_NAME / config_name


CONFIG_NAME = re.compile(r"^(?P<source>[a-z]+)_(?P<size>\d+)_seed(?P<seed>\d+)(?:_n(?P<n>\d+))?$")


def built_datasets(data_dir: str) -> list[str]:
    """Dataset config names built under data_dir (tfds layout DATA_DIR/jaxpaint/CONFIG/VERSION)."""
    root = Path(data_dir) / "jaxpaint"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def resolve_dataset(data_dir: str, requested: str | None, run_config=None) -> str:
    if requested:
        return requested
    if run_config is not None and run_config.get("data", {}).get("dataset"):
        return run_config.data.dataset
    names = built_datasets(data_dir)
    if len(names) == 1:
        return names[0]
    if not names:
        raise JaxpaintError(f"no dataset is built in {data_dir}; run `jaxpaint data build` first")
    raise JaxpaintError(f"{data_dir} holds several datasets ({', '.join(names)}); choose one with --dataset")


def build_command(config_name: str, data_dir: str | Path) -> str:
    """The `jaxpaint data build` command that builds a config name such as "lspet_128_seed0"."""
    match = CONFIG_NAME.match(config_name)
    if not match:
        return f"jaxpaint data build --data-dir {data_dir} ... (no dataset config is named {config_name!r})"
    source = match["source"]
    command = f"jaxpaint data build --source {source} --size {match['size']} --seed {match['seed']}"
    if match["n"]:
        command += f" --num-examples {match['n']}"
    command += f" --data-dir {data_dir}"
    return command if source == "synthetic" else command + " --manual-dir DIR"


def find_version_dir(data_dir: str | Path, config_name: str) -> Path:
    """The newest complete version folder of a built config; JaxpaintError if none is built."""
    config_dir = dataset_dir(data_dir, config_name)
    # Only finished versions: TFDS stages a build in a sibling "incomplete.*" folder and renames it at the end.
    versions = sorted(
        (p for p in config_dir.glob("*.*.*") if VERSION_NAME.match(p.name) and (p / "dataset_info.json").is_file()),
        key=lambda p: tuple(int(x) for x in p.name.split(".")),
    )
    if not versions:
        raise JaxpaintError(
            f"dataset {config_dir} is not built (no complete version folder); build it with "
            f"`{build_command(config_name, data_dir)}`"
        )
    return versions[-1]


def open_split(data_dir: str | Path, config_name: str, split: str):
    """One split of a built dataset as a random-access source of example dicts (`tfds.data_source`)."""
    import tensorflow_datasets as tfds

    version_dir = find_version_dir(data_dir, config_name)
    builder = tfds.builder_from_directory(str(version_dir))
    if split not in builder.info.splits:
        raise JaxpaintError(
            f"dataset {version_dir} has no split {split!r}; it has {', '.join(sorted(builder.info.splits))}"
        )
    return builder.as_data_source(split=split)


def _joint_field(example: Mapping[str, Any], key: str) -> np.ndarray:
    # tfds.data_source gives nested dicts (example["joints"]["xy"]); flat "joints/xy" keys are accepted too.
    joints = example.get("joints")
    if isinstance(joints, Mapping):
        return np.asarray(joints[key])
    return np.asarray(example[f"joints/{key}"])


def blocks_to_hole_mask(blocks: np.ndarray, height: int, width: int) -> np.ndarray:
    """bool (H, W) hole mask of (row, col, size) blocks; delegates to the competition-track helper."""
    from jaxpaint.data.track import blocks_to_hole

    return np.asarray(blocks_to_hole(blocks, height, width), dtype=bool)


def to_batch_element(example: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """One example in the per-item batch layout: fixed-size blocks, derived hole, flat joint keys."""
    image = np.asarray(example["image"], dtype=np.uint8)
    blocks = np.asarray(example["blocks"], dtype=np.int32).reshape(-1, 3)
    if len(blocks) > MAX_BLOCKS:
        raise JaxpaintError(f"example {example.get('image_id', '?')!r} has {len(blocks)} blocks; at most {MAX_BLOCKS}")
    padded = np.zeros((MAX_BLOCKS, 3), np.int32)
    padded[: len(blocks)] = blocks
    element = {
        "image": image,
        "hole": blocks_to_hole_mask(blocks, image.shape[0], image.shape[1]),
        "blocks": padded,
        "num_blocks": np.int32(len(blocks)),
        "joints_xy": _joint_field(example, "xy").astype(np.float32).reshape(NUM_SLOTS, 2),
    }
    for key in JOINT_KEYS[1:]:
        element[f"joints_{key}"] = _joint_field(example, key).astype(bool).reshape(NUM_SLOTS)
    for key in PRECOMPUTED_KEYS:
        if key in example:
            element[key] = np.asarray(example[key])
    return element


class WithArrays:
    """A random-access source whose example i also holds arrays[name][i] for each named array (one of
    PRECOMPUTED_KEYS), e.g. an input fill solved once per example instead of at every step."""

    def __init__(self, source: Sequence[Mapping[str, Any]], **arrays: np.ndarray):
        unknown = sorted(set(arrays) - set(PRECOMPUTED_KEYS))
        if unknown:
            raise ValueError(f"WithArrays: {unknown} are not among {PRECOMPUTED_KEYS}")
        for name, values in arrays.items():
            if len(values) != len(source):
                raise ValueError(f"WithArrays: {name} has {len(values)} rows for {len(source)} examples")
        self.source, self.arrays = source, arrays

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {**self.source[index], **{name: values[index] for name, values in self.arrays.items()}}


def shuffle_seed(seed: int) -> int:
    """A 32-bit shuffle seed mixed from `seed`; grain adds the epoch to it, so raw seeds s and s+1 would share epochs."""
    return int(np.random.SeedSequence([int(seed), 0x6A70]).generate_state(1)[0])


def batch_dataset(
    source: Sequence[Mapping[str, Any]],
    batch_size: int,
    *,
    seed: int,
    shuffle: bool = True,
    drop_remainder: bool = True,
    repeat: bool | None = None,
    process_index: int = 0,
    process_count: int = 1,
):
    """A grain.MapDataset whose element i is batch i (a dict of numpy arrays, docs/DESIGN.md layout).

    shuffle=True: each epoch is a fresh permutation of the examples and the dataset
    repeats without end (`repeat` defaults to `shuffle`); batches never straddle two
    epochs. shuffle=False, drop_remainder=False: one pass covering every example once.
    With several processes, element i holds only this process's rows of global batch i
    (`batch_size` is the global batch), and only those examples are read.
    """
    import grain

    if batch_size <= 0:
        raise JaxpaintError(f"batch size must be positive, got {batch_size}")
    if batch_size % process_count:
        raise JaxpaintError(f"batch size {batch_size} does not split evenly over {process_count} processes")
    repeat = shuffle if repeat is None else repeat
    if len(source) == 0 or (drop_remainder and len(source) < batch_size):
        raise JaxpaintError(
            f"cannot make batches of {batch_size} from {len(source)} examples"
            + (" with drop_remainder" if drop_remainder else "")
        )
    # Batches of example indices first, so that each process reads only its own rows.
    ds = grain.MapDataset.range(len(source))
    if shuffle:
        ds = ds.shuffle(seed=shuffle_seed(seed))
    ds = ds.batch(batch_size, drop_remainder=drop_remainder, batch_fn=np.asarray)
    if repeat:
        ds = ds.repeat()

    def read_rows(indices: np.ndarray) -> dict[str, np.ndarray]:
        rows = np.array_split(indices, process_count)[process_index] if process_count > 1 else indices
        elements = [to_batch_element(source[int(i)]) for i in rows]
        return {key: np.stack([e[key] for e in elements]) for key in elements[0]}

    return ds.map(read_rows)


def iterate(batches, start: int = 0, *, num_threads: int = 2, prefetch: int = 8):
    """Iterates `batches` from batch index `start`, reading ahead in background threads."""
    import grain

    return iter(batches[start:].to_iter_dataset(grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=prefetch)))


def batches_per_epoch(num_examples: int, batch_size: int, drop_remainder: bool = True) -> int:
    """How many batches `batch_dataset` makes from one epoch of `num_examples`."""
    return num_examples // batch_size if drop_remainder else -(-num_examples // batch_size)


def mean_color(source: Sequence[Mapping[str, Any]], max_examples: int = 1000) -> np.ndarray:
    """Mean RGB of the images in [-1, 1], float32 (3,), over up to `max_examples` evenly spaced examples."""
    n = len(source)
    if n == 0:
        raise JaxpaintError("cannot take the mean colour of an empty dataset")
    indices = np.unique(np.linspace(0, n - 1, num=min(n, max_examples)).round().astype(int))
    total = np.zeros(3, np.float64)
    pixels = 0
    for i in indices:
        image = np.asarray(source[int(i)]["image"], dtype=np.float64)
        total += image.reshape(-1, 3).sum(axis=0)
        pixels += image.shape[0] * image.shape[1]
    return (total / pixels / 127.5 - 1.0).astype(np.float32)
