"""The `jaxpaint` TFDS dataset: one config per (source, image size, seed), array_record shards.

Builds without TensorFlow: images are PNG-encoded here (jaxpaint.data.images.encode_png)
and handed to `tfds.features.Image` as bytes, which skips TFDS's TF encoder; the
array_record writer and `tfds.data_source` reader are TF-free.

A build is staged by TFDS in a sibling `incomplete.*` folder and renamed into
DATA_DIR/jaxpaint/CONFIG/VERSION only when every split is written, so a failed build
(an unreadable image, a bad annotation file) leaves no folder that looks complete.
build_stats.json is written inside the staged folder, so it appears with the data.

Examples keep generation order (disable_shuffling), and every random choice comes
from the config's seed, so the same config gives byte-identical shards.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import shutil
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core import example_serializer

from jaxpaint.data import loader
from jaxpaint.data.crop import DEFAULT_SIZE
from jaxpaint.data.images import swap_directories, write_bytes_atomic
from jaxpaint.data.joints import NUM_SLOTS
from jaxpaint.data.pipeline import BuildStats, process_in_order
from jaxpaint.data.sources import SOURCE_NAMES, SourceImage, get_source
from jaxpaint.data.splits import SPLITS, assign_splits
from jaxpaint.locks import wait_for_lock
from jaxpaint.errors import JaxpaintError

MERGED = "merged"
BUILD_SOURCES = SOURCE_NAMES + (MERGED,)
REAL_SOURCES = tuple(s for s in SOURCE_NAMES if s != "synthetic")
DEFAULT_SYNTHETIC_EXAMPLES = 3000
STATS_NAME = "build_stats.json"
DATASET_VERSION = "1.0.0"


def config_name(source: str, size: int = DEFAULT_SIZE, seed: int = 0, num_examples: int | None = None) -> str:
    """The config's name, e.g. "lspet_128_seed0"; a cap on source images adds "_n<N>" (they hold different data)."""
    name = f"{source}_{size}_seed{seed}"
    return name if num_examples is None else f"{name}_n{num_examples}"


@dataclasses.dataclass(eq=False)
class JaxpaintConfig(tfds.core.BuilderConfig):
    """source: a --source name or "merged"; num_examples: source images to read (all when None)."""

    source: str = "synthetic"
    size: int = DEFAULT_SIZE
    seed: int = 0
    num_examples: int | None = None
    workers: int = 2


def make_config(source: str, size: int = DEFAULT_SIZE, seed: int = 0, num_examples: int | None = None, workers: int = 2) -> JaxpaintConfig:
    if source not in BUILD_SOURCES:
        raise JaxpaintError(f"unknown source {source!r}; expected one of {', '.join(BUILD_SOURCES)}")
    if size < 64:
        raise JaxpaintError(f"image size {size} is too small; block masks need at least 64 px")
    if num_examples is not None and num_examples <= 0:
        raise JaxpaintError(f"--num-examples must be positive, got {num_examples}")
    return JaxpaintConfig(
        name=config_name(source, size, seed, num_examples),
        version=DATASET_VERSION,
        release_notes=dict(Jaxpaint.RELEASE_NOTES),
        description=f"{source} crops at {size}x{size} px, masks and splits from seed {seed}",
        source=source,
        size=size,
        seed=seed,
        num_examples=num_examples,
        workers=workers,
    )


def _instructions() -> str:
    lines = ["Put each source's files in --manual-dir (for the merged config: one sub-folder per source name)."]
    for name in REAL_SOURCES:
        lines.append(f"{name}: {get_source(name).MANUAL_DOWNLOAD_INSTRUCTIONS}")
    return "\n".join(lines)


def features() -> tfds.features.FeaturesDict:
    """The example layout of docs/DESIGN.md."""
    f = tfds.features
    return f.FeaturesDict(
        {
            "image": f.Image(shape=(None, None, 3), dtype=np.uint8, encoding_format="png"),
            "blocks": f.Tensor(shape=(None, 3), dtype=np.int32),
            "joints": f.FeaturesDict(
                {
                    "xy": f.Tensor(shape=(NUM_SLOTS, 2), dtype=np.float32),
                    "present": f.Tensor(shape=(NUM_SLOTS,), dtype=np.bool_),
                    "visible": f.Tensor(shape=(NUM_SLOTS,), dtype=np.bool_),
                    "derived": f.Tensor(shape=(NUM_SLOTS,), dtype=np.bool_),
                    "type": f.Tensor(shape=(NUM_SLOTS,), dtype=np.int32),
                    "side": f.Tensor(shape=(NUM_SLOTS,), dtype=np.int32),
                }
            ),
            "source": f.Text(),
            "image_id": f.Text(),
            "crop_box": f.Tensor(shape=(4,), dtype=np.float32),
        }
    )


def source_folders(manual_dir: Path) -> list[str]:
    """The real sources that have a sub-folder in a merged build's manual_dir, in SOURCE_NAMES order."""
    return [name for name in REAL_SOURCES if (manual_dir / name).is_dir()]


def list_source_images(source: str, manual_dir: Path | None, config: JaxpaintConfig) -> list[SourceImage]:
    """Every SourceImage a source offers (pixels are loaded later), capped at num_examples."""
    module = get_source(source)
    if source == "synthetic":
        count = config.num_examples or DEFAULT_SYNTHETIC_EXAMPLES
        return list(module.iter_images(None, num_examples=count, seed=config.seed, size=config.size))
    if manual_dir is None:
        raise JaxpaintError(f"source {source} needs --manual-dir: {module.MANUAL_DOWNLOAD_INSTRUCTIONS}")
    return list(itertools.islice(module.iter_images(str(manual_dir)), config.num_examples))


@contextlib.contextmanager
def deterministic_serialization():
    """Makes TFDS serialize tf.Examples with sorted feature maps while the build runs.

    A tf.Example keeps its features in a protobuf map, whose wire order follows Python's
    per-process string hashing: the same examples would give other shard bytes in
    another process. TFDS builds its serializer internally, so the method is swapped
    for the duration of the build and restored after.
    """
    cls = example_serializer.ExampleSerializer
    original = cls.serialize_example

    def serialize_example(self, example):
        return self.get_tf_example(example).SerializeToString(deterministic=True)

    cls.serialize_example = serialize_example
    try:
        yield
    finally:
        cls.serialize_example = original


class Jaxpaint(tfds.core.GeneratorBasedBuilder):
    """Human-centred crops with seeded block masks and joints (thesis §2)."""

    name = "jaxpaint"
    VERSION = tfds.core.Version(DATASET_VERSION)
    RELEASE_NOTES = {DATASET_VERSION: "Crops, masks and splits of thesis §2.3."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = _instructions()
    # TFDS locates a builder's code through the `importlib_resources` backport, which is not a
    # dependency; naming the file directly skips that look-up (it only seeks a checksums file).
    code_path = Path(__file__)

    def __init__(self, *, manual_dir: str | Path | None = None, **kwargs):
        self._manual_dir = None if manual_dir is None else Path(manual_dir)
        self._stats = BuildStats()
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            features=features(),
            disable_shuffling=True,
            homepage="https://chalearnlap.cvc.uab.cat/challenge/26/description/",
        )

    def _sources(self) -> list[tuple[str, list[SourceImage]]]:
        config: JaxpaintConfig = self.builder_config
        if config.source != MERGED:
            return [(config.source, list_source_images(config.source, self._manual_dir, config))]
        if self._manual_dir is None:
            raise JaxpaintError("the merged config needs --manual-dir with one sub-folder per source name")
        names = source_folders(self._manual_dir)
        if not names:
            raise JaxpaintError(
                f"manual dir {self._manual_dir} has no source sub-folder; expected some of {', '.join(REAL_SOURCES)}"
            )
        return [(name, list_source_images(name, self._manual_dir / name, config)) for name in names]

    def _split_generators(self, dl_manager):
        config: JaxpaintConfig = self.builder_config
        sources = self._sources()
        groups = [(f"{name}/{item.image_id}", len(item.people)) for name, items in sources for item in items]
        split_of = assign_splits(groups, seed=config.seed)
        return {
            split: self._generate_examples(
                split, [(name, [it for it in items if split_of[f"{name}/{it.image_id}"] == split]) for name, items in sources]
            )
            for split in SPLITS
        }

    def _generate_examples(self, split: str, sources: list[tuple[str, list[SourceImage]]]) -> Iterator[tuple[str, dict]]:
        config: JaxpaintConfig = self.builder_config
        crop = {name: get_source(name).CROP for name, _ in sources}
        for name, items in sources:
            results = process_in_order(name, items, size=config.size, seed=config.seed, crop=crop[name], workers=config.workers)
            for result in results:
                self._stats.add(split, name, result)
                yield from result.examples

    def _download_and_prepare(self, dl_manager, download_config=None):
        start = time.perf_counter()
        with deterministic_serialization():
            super()._download_and_prepare(dl_manager, download_config)
        # self.data_dir is the staging folder here: the stats appear only with a finished build.
        stats = self._stats.as_dict(time.perf_counter() - start)
        stats["config"] = dataclasses.asdict(self.builder_config) | {"version": DATASET_VERSION}
        write_bytes_atomic(Path(self.data_dir) / STATS_NAME, (json.dumps(stats, indent=2, default=str) + "\n").encode())


def build(
    source: str,
    data_dir: str | Path,
    *,
    manual_dir: str | Path | None = None,
    size: int = DEFAULT_SIZE,
    seed: int = 0,
    num_examples: int | None = None,
    workers: int = 2,
    overwrite: bool = False,
) -> Path:
    """Builds one config (if not built yet) and returns its version folder.

    One build per config and data dir at a time: a second one waits for the first (a lock file in
    data_dir), then finds the config built and reuses it. `overwrite` builds the new version in a staging
    data dir and swaps it in whole, so that the old one stays until the new one is complete.
    """
    config = make_config(source, size, seed, num_examples, workers)
    if manual_dir is not None and not Path(manual_dir).is_dir():
        raise JaxpaintError(f"manual dir {manual_dir} does not exist")
    data_dir = Path(data_dir)
    if overwrite or not is_built(data_dir, config.name):
        tfds_builder(config, data_dir, manual_dir)._sources()  # checks the source files before any file is made
    with wait_for_lock(data_dir / f".build-{config.name}.lock", f"dataset {config.name} in {data_dir}"):
        remove_unfinished_builds(data_dir, config.name)
        if overwrite and is_built(data_dir, config.name):
            return rebuild_aside(config, data_dir, manual_dir)
        prepare(config, data_dir, manual_dir)
        return loader.find_version_dir(data_dir, config.name)


def is_built(data_dir: Path, name: str) -> bool:
    try:
        loader.find_version_dir(data_dir, name)
    except JaxpaintError:
        return False
    return True


def remove_unfinished_builds(data_dir: Path, name: str) -> None:
    """Deletes the `incomplete.*` folders that killed builds of this config left (TFDS stages a build there and
    renames it into place at the end). Called under the config's build lock, so no build is using them."""
    config_dir = loader.dataset_dir(data_dir, name)
    for stale in config_dir.glob("incomplete*") if config_dir.is_dir() else ():
        shutil.rmtree(stale, ignore_errors=True)
    shutil.rmtree(data_dir / f".rebuild-{name}", ignore_errors=True)


def prepare(config: JaxpaintConfig, data_dir: Path, manual_dir) -> None:
    """TFDS's download_and_prepare of one config into data_dir, reusing a finished build."""
    builder = tfds_builder(config, data_dir, manual_dir)
    mode = tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(download_mode=mode, manual_dir=None if manual_dir is None else str(manual_dir))
    )


def tfds_builder(config: JaxpaintConfig, data_dir: Path, manual_dir) -> "Jaxpaint":
    return Jaxpaint(config=config, data_dir=str(data_dir), manual_dir=manual_dir, file_format="array_record")


def rebuild_aside(config: JaxpaintConfig, data_dir: Path, manual_dir) -> Path:
    """Builds the config again in a staging data dir beside the data, then swaps the version folders in one
    rename (TFDS's own overwrite deletes the old data first, so a kill would leave none)."""
    staging = data_dir / f".rebuild-{config.name}"
    prepare(config, staging, manual_dir)
    new, old = loader.find_version_dir(staging, config.name), loader.find_version_dir(data_dir, config.name)
    swap_directories(new, old)  # `new` now holds the old build
    shutil.rmtree(staging, ignore_errors=True)
    return old


def read_build_stats(data_dir: str | Path, name: str) -> dict:
    """The build_stats.json of a built config."""
    path = loader.find_version_dir(data_dir, name) / STATS_NAME
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise JaxpaintError(f"cannot read build stats {path}: {err}") from None
