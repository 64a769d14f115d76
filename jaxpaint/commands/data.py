"""`jaxpaint data`: build the dataset, check and plot its masks, export a competition track, preview crops."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from jaxpaint.data.sources import SOURCE_NAMES
from jaxpaint.errors import JaxpaintError

BUILD_SOURCES = SOURCE_NAMES + ("merged",)  # jaxpaint.data.builder has the same list, behind a heavy tfds import
HISTOGRAM_NAME = "mask_histograms.png"


def _add_dataset_arguments(parser, *, data_dir_default: str | None = "./data") -> None:
    parser.add_argument("--source", required=True, choices=BUILD_SOURCES)
    parser.add_argument("--data-dir", default=data_dir_default, required=data_dir_default is None, help="TFDS data dir")
    parser.add_argument("--size", type=int, default=128, help="crop side in pixels")
    parser.add_argument("--seed", type=int, default=0, help="seed of masks and splits")
    parser.add_argument("--num-examples", type=int, help="read only this many source images (synthetic: how many to draw)")


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="build, inspect and export the dataset")
    sub = parser.add_subparsers(dest="data_command", required=True)

    build = sub.add_parser("build", help="build one dataset config (TFDS, array_record)")
    _add_dataset_arguments(build)
    build.add_argument("--manual-dir", help="the source's files (merged: one sub-folder per source name)")
    build.add_argument("--workers", type=int, default=2, help="threads decoding and cropping images")
    build.add_argument("--overwrite", action="store_true", help="rebuild even if the config is built")
    build.set_defaults(func=run_build)

    stats = sub.add_parser("stats", help="counts, skips, mask-rule check and mask histograms (thesis Fig. 3)")
    _add_dataset_arguments(stats, data_dir_default=None)
    stats.add_argument("--out", help=f"histogram PNG (default: {HISTOGRAM_NAME} in the dataset folder)")
    stats.set_defaults(func=run_stats)

    export = sub.add_parser("export-track", help="write a split in the competition's layout (X/, Y/, maskdata.json)")
    _add_dataset_arguments(export, data_dir_default=None)
    export.add_argument("--split", default="test")
    export.add_argument("--out", required=True, help="track folder to create")
    export.add_argument("--limit", type=int, help="export only the first N examples")
    export.set_defaults(func=run_export_track)

    preview = sub.add_parser("preview", help="a grid of crops with their joints and holes")
    _add_dataset_arguments(preview, data_dir_default=None)
    preview.add_argument("--split", default="train")
    preview.add_argument("--count", type=int, default=16)
    preview.add_argument("--out", required=True, help="PNG to write")
    preview.set_defaults(func=run_preview)


# Ranges of the numeric arguments: flag -> (attribute, lowest); None values (not given) are not checked.
ARGUMENT_MINIMUMS = {"--size": ("size", 64), "--seed": ("seed", 0), "--num-examples": ("num_examples", 1),
                     "--workers": ("workers", 1), "--limit": ("limit", 1), "--count": ("count", 1)}


def check_arguments(args) -> None:
    """Numbers and paths, before anything is read or written."""
    from jaxpaint.data.images import check_output_path

    for flag, (attr, low) in ARGUMENT_MINIMUMS.items():
        value = getattr(args, attr, None)
        if value is not None and value < low:
            extra = " (block masks need at least 64 px)" if attr == "size" else ""
            raise JaxpaintError(f"{flag} must be an integer >= {low}, got {value}{extra}")
    data_dir = Path(args.data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise JaxpaintError(f"--data-dir {data_dir} is a file, not a folder")
    manual_dir = getattr(args, "manual_dir", None)
    if manual_dir is not None:
        if not Path(manual_dir).is_dir():
            raise JaxpaintError(f"--manual-dir {manual_dir} is not a folder")
        if data_dir.resolve() == Path(manual_dir).resolve() or data_dir.resolve().is_relative_to(Path(manual_dir).resolve()):
            raise JaxpaintError(f"--data-dir {data_dir} is or lies inside --manual-dir {manual_dir}; the built "
                                "dataset must not be written into the source files. Choose another --data-dir")
    out = getattr(args, "out", None)
    if out is not None and args.data_command != "build":
        check_output_path(out, "--out", {"--data-dir": args.data_dir})
        if args.data_command in ("stats", "preview") and Path(out).is_dir():
            raise JaxpaintError(f"--out {out} is a folder; give the PNG file to write")


def _config(args) -> str:
    from jaxpaint.data.builder import config_name

    return config_name(args.source, args.size, args.seed, args.num_examples)


def run_build(args) -> int:
    check_arguments(args)
    from jaxpaint.data import builder

    version_dir = builder.build(
        args.source,
        args.data_dir,
        manual_dir=args.manual_dir,
        size=args.size,
        seed=args.seed,
        num_examples=args.num_examples,
        workers=args.workers,
        overwrite=args.overwrite,
    )
    stats = builder.read_build_stats(args.data_dir, _config(args))
    print(f"dataset {version_dir}")
    print(_summary(stats))
    return 0


def _summary(stats: dict) -> str:
    lines = [f"examples: {stats['examples_total']}"]
    for split, per_source in stats["examples_per_split"].items():
        lines.append(f"  {split}: " + ", ".join(f"{s} {n}" for s, n in per_source.items()))
    for source, reasons in stats["skips"].items():
        text = ", ".join(f"{r} {n}" for r, n in reasons.items()) or "none"
        lines.append(f"skipped people ({source}): {text}")
    share = stats["joint_cover_share"]
    lines.append(f"blocks covering a joint: {share['biased']:.1%} (unbiased placement: {share['unbiased']:.1%})")
    lines.append(f"build time {stats['wall_seconds']} s, {stats['source_images_per_second']} source images/s")
    return "\n".join(lines)


def _splits(data_dir, config: str) -> dict:
    from jaxpaint.data import loader
    from jaxpaint.data.splits import SPLITS

    return {split: loader.open_split(data_dir, config, split) for split in SPLITS}


def mask_figures(examples) -> dict[str, list]:
    """Per-example mask figures over an iterable of examples: the numbers behind Fig. 3 and the rule check."""
    from jaxpaint.data.masks import check_mask_rules, covers_joint

    figures = {"blocks_per_image": [], "block_sizes": [], "blocks_on_joints": [], "violations": []}
    for ex in examples:
        blocks = np.asarray(ex["blocks"]).reshape(-1, 3)
        h, w = np.asarray(ex["image"]).shape[:2]
        joints = ex["joints"]
        figures["blocks_per_image"].append(len(blocks))
        figures["block_sizes"].extend(blocks[:, 2].tolist())
        figures["blocks_on_joints"].append(int(covers_joint(blocks, joints["xy"], joints["present"]).sum()))
        problems = check_mask_rules(blocks, h, w)
        if problems:
            figures["violations"].append((ex["image_id"], problems))
    return figures


def histogram_png(per_split: dict[str, dict[str, list]]) -> bytes:
    """PNG bytes of three histograms (blocks per image, block size, blocks on joints per image), one colour per split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [v for f in per_split.values() for v in f["block_sizes"]]
    panels = [  # integer-valued data: one bin per value
        ("blocks_per_image", "blocks per image", np.arange(0.5, 11.5, 1)),
        ("block_sizes", "block side (px)", np.arange(min(sizes) - 0.5, max(sizes) + 1.5, 1)),
        ("blocks_on_joints", "blocks on joints per image", np.arange(-0.5, 11.5, 1)),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, (key, title, bins) in zip(axes, panels):
        data = [per_split[s][key] for s in per_split]
        ax.hist(data, bins=bins, stacked=True, label=list(per_split))
        ax.set_title(title)
        ax.set_ylabel("count")
    axes[0].legend(loc="lower right")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def run_stats(args) -> int:
    check_arguments(args)
    from tqdm import tqdm

    from jaxpaint.data import builder, loader
    from jaxpaint.data.images import write_bytes_atomic

    config = _config(args)
    stats = builder.read_build_stats(args.data_dir, config)
    print(f"dataset {loader.find_version_dir(args.data_dir, config)}")
    print(_summary(stats))
    per_split = {}
    for split, source in _splits(args.data_dir, config).items():
        per_split[split] = mask_figures(tqdm((source[i] for i in range(len(source))), total=len(source), desc=split))
    violations = [v for figures in per_split.values() for v in figures["violations"]]
    checked = sum(len(f["blocks_per_image"]) for f in per_split.values())
    print(f"mask rules: {checked - len(violations)} of {checked} masks meet every rule")
    for image_id, problems in violations[:10]:
        print(f"  {image_id}: {'; '.join(problems)}")
    for split, f in per_split.items():
        sizes = np.asarray(f["block_sizes"])
        print(
            f"{split}: {np.mean(f['blocks_per_image']):.2f} blocks/image, side {sizes.min()}-{sizes.max()} px "
            f"(median {np.median(sizes):g}), {np.mean(f['blocks_on_joints']):.2f} blocks on joints/image"
        )
    out = Path(args.out) if args.out else loader.find_version_dir(args.data_dir, config) / HISTOGRAM_NAME
    write_bytes_atomic(out, histogram_png(per_split))
    print(f"histograms written to {out}")
    return 1 if violations else 0


def _pose(example):
    from jaxpaint.data.joints import Pose

    j = example["joints"]
    return Pose(
        xy=np.asarray(j["xy"], np.float32),
        present=np.asarray(j["present"], bool),
        visible=np.asarray(j["visible"], bool),
        derived=np.asarray(j["derived"], bool),
    )


def run_export_track(args) -> int:
    check_arguments(args)
    from tqdm import tqdm

    from jaxpaint.data import loader
    from jaxpaint.data.track import write_track

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise JaxpaintError(f"--out {out} already exists and is not an empty folder; remove it or choose another")
    source = loader.open_split(args.data_dir, _config(args), args.split)
    count = len(source) if args.limit is None else min(args.limit, len(source))
    if count <= 0:
        raise JaxpaintError(f"split {args.split} of {_config(args)} has no examples to export")

    def items():
        for i in tqdm(range(count), desc=f"export {args.split}"):
            ex = source[i]
            yield f"{i:06d}.png", np.asarray(ex["image"]), np.asarray(ex["blocks"]), _pose(ex)

    written = write_track(args.out, items())
    print(f"{written} images written to {args.out}")
    return 0


def preview_grid(examples, ncols: int = 4, scale: int = 2) -> np.ndarray:
    """Crops with their holes and joints drawn, tiled."""
    from jaxpaint.data.loader import blocks_to_hole_mask
    from jaxpaint.report.grids import draw_example, tile

    cells = []
    for ex in examples:
        image = np.asarray(ex["image"])
        hole = blocks_to_hole_mask(np.asarray(ex["blocks"]), *image.shape[:2])
        cells.append(draw_example(image, hole, ex["joints"]["xy"], ex["joints"]["present"], scale=scale))
    return tile(cells, ncols)


def run_preview(args) -> int:
    check_arguments(args)
    from jaxpaint.data import loader
    from jaxpaint.data.images import save_png_atomic

    source = loader.open_split(args.data_dir, _config(args), args.split)
    if len(source) == 0:
        raise JaxpaintError(f"split {args.split} of {_config(args)} is empty")
    # Evenly spaced examples: a spread over the split, the same every time.
    indices = np.unique(np.linspace(0, len(source) - 1, num=min(args.count, len(source))).round().astype(int))
    save_png_atomic(args.out, preview_grid([source[int(i)] for i in indices], ncols=int(np.ceil(np.sqrt(len(indices))))))
    print(f"{len(indices)} crops written to {args.out}")
    return 0
