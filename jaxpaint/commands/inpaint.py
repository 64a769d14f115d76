"""`jaxpaint inpaint`: complete images with a method, in batches, writing one PNG per image.

Inputs, one of:
  --data-dir DIR --split S [--dataset NAME]   a built dataset split (its own block masks);
                                              writes OUT/<split>_<index>.png and OUT/maskdata.json
  --input DIR --masks maskdata.json           a competition folder (e.g. X/); writes OUT/<name>.png
  --image a.png --mask m.png                  one image; mask pixels that are nonzero are holes

Under `jax.distributed` (`--distributed`, with JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES
and JAX_PROCESS_ID as for training) every process inpaints only its own share of the
folder or split (`shard_indices`) and writes it into the same OUT; the union is the
one-process output, byte for byte.

Known pixels come back exactly as they went in. When the method was trained at a
fixed size (the run's config.data.image_size), images of any other size or aspect
are fitted to it by `--fit` (jaxpaint.any_size): by default each hole is inpainted in
a window around it at the model's scale and pasted back.

    jaxpaint inpaint --model unet-lspet-v1 --image photo.jpg --mask mask.png --out out/
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from jaxpaint.any_size import DEFAULT_FIT, FITS
from jaxpaint.errors import JaxpaintError


def register(subparsers) -> None:
    p = subparsers.add_parser("inpaint", help="inpaint images with a trained method")
    p.add_argument("--model", help="a released model's name (jaxpaint models lists them), instead of --workdir")
    p.add_argument("--workdir", help="the method's training run (needed for trained methods)")
    p.add_argument("--method", help="method name (default: the run's method)")
    p.add_argument("--out", required=True, help="output folder for the completed PNGs")
    p.add_argument("--batch-size", type=int, help="images per network call (default: the run's batch size)")
    p.add_argument("--data-dir", help="a built dataset's directory")
    p.add_argument("--dataset", help="dataset config name (default: the run's)")
    p.add_argument("--split", help="the split to inpaint, with --data-dir")
    p.add_argument("--limit", type=int, help="inpaint only the first N examples of the split")
    p.add_argument("--input", help="folder of images named in --masks")
    p.add_argument("--masks", help="maskdata.json for --input: {name: [[row, col, size], ...]}")
    p.add_argument("--image", help="one image file")
    p.add_argument("--mask", help="its mask PNG (nonzero = hole), same size as the image")
    p.add_argument("--fit", choices=FITS, default=DEFAULT_FIT,
                   help="how an image of another size than the model's is fitted to it: a window around each hole "
                        "(default), the whole image at its own resolution (fully convolutional models), or "
                        "the whole image resized")
    p.add_argument("--distributed", action="store_true",
                   help="join a jax.distributed job; each process inpaints its own share of the images")
    p.add_argument("--compare-content", metavar="PNG",
                   help=f"for a method that refines a first guess (patch_synthesis): also write a grid of the first "
                        f"{COMPARE_ROWS} images, one a row: masked input, content only, full method, original")
    # Extra `--config.key=value` arguments change the method's config, e.g. for patch synthesis
    # --config.content_workdir=runs/content_lspet (the trained content network) or --config.levels=2.
    p.set_defaults(func=run, accepts_overrides=True)


COMPARE_ROWS = 8


# --- inputs: each yields (output name, uint8 (H, W, 3) image, bool (H, W) hole) -----------------


def read_mask_png(path: str | Path, shape: tuple[int, int]) -> np.ndarray:
    """bool (H, W) hole mask from a PNG (any nonzero channel = hole); it must be the image's size."""
    from jaxpaint.data.images import load_rgb

    mask = load_rgb(path).max(axis=-1) > 0
    if mask.shape != tuple(shape):
        raise JaxpaintError(f"mask {path} is {mask.shape[1]}x{mask.shape[0]} but its image is {shape[1]}x{shape[0]}")
    return mask


def single_image(image_path: str, mask_path: str) -> tuple[int, Iterator]:
    from jaxpaint.data.images import load_rgb

    image = load_rgb(image_path)
    hole = read_mask_png(mask_path, image.shape[:2])
    if not hole.any():
        print(f"mask {mask_path} has no hole (no nonzero pixel): the image is written back unchanged")
    return 1, iter([(Path(image_path).stem + ".png", image, hole)])


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) from the file header, without decoding the pixels."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size[1], image.size[0]
    except (OSError, SyntaxError, ValueError) as err:
        raise JaxpaintError(f"image {path} cannot be read: {err}") from None


def shard_indices(total: int, batch_size: int, process_index: int, process_count: int) -> list[int]:
    """This process's share of `total` inputs: whole batches, batch k going to process k mod P.

    Whole batches, so that every batch holds the same images as in a one-process run: a
    method whose result depends on the batch (the latent search draws z by position in
    its call) gives the same bytes.
    """
    return [i for i in range(total) if (i // batch_size) % process_count == process_index]


def folder_with_maskdata(input_dir: str, masks_path: str, keep: list[int] | None = None) -> tuple[int, Iterator]:
    """The images named in maskdata.json (sorted by name; only those at positions `keep` when given),
    validated against their sizes before any work starts."""
    from jaxpaint.data.images import load_rgb
    from jaxpaint.data.track import blocks_to_hole, read_maskdata

    folder = Path(input_dir)
    if not folder.is_dir():
        raise JaxpaintError(f"input folder {folder} does not exist")
    names = list(read_maskdata(masks_path))
    for name in names:
        if not (folder / name).is_file():
            raise JaxpaintError(f"image {folder / name} (named in {masks_path}) does not exist")
    masks = read_maskdata(masks_path, {name: image_size(folder / name) for name in names})

    names = sorted(masks)
    names = names if keep is None else [names[i] for i in keep]

    def items():
        for name in names:
            image = load_rgb(folder / name)
            yield Path(name).with_suffix(".png").as_posix(), image, blocks_to_hole(masks[name], *image.shape[:2])

    return len(names), items()


def split_size(data_dir: str, dataset: str, split: str, limit: int | None) -> int:
    from jaxpaint.data.loader import open_split

    source = open_split(data_dir, dataset, split)
    return len(source) if limit is None else min(limit, len(source))


def dataset_split(data_dir: str, dataset: str, split: str, limit: int | None, keep: list[int] | None = None,
                  all_blocks: bool = True) -> tuple[int, Iterator, dict]:
    """A built split in order (only the examples at `keep` when given); the third value collects the blocks
    for maskdata.json, once the items are consumed: of every example with `all_blocks`, else of those yielded."""
    from jaxpaint.data.loader import batch_dataset, open_split

    source = open_split(data_dir, dataset, split)
    total = split_size(data_dir, dataset, split, limit)
    wanted = set(range(total) if keep is None else keep)
    blocks_by_name: dict[str, np.ndarray] = {}

    def items():
        batches = batch_dataset(source, 1, seed=0, shuffle=False, drop_remainder=False)
        for index in range(total):
            if index not in wanted and not all_blocks:
                continue
            example = batches[index]
            name = f"{split}_{index:05d}.png"
            blocks_by_name[name] = example["blocks"][0][: int(example["num_blocks"][0])]
            if index in wanted:
                yield name, example["image"][0], example["hole"][0]

    return len(wanted), items(), blocks_by_name


# --- batching ----------------------------------------------------------------------------------


def chunks(items: Iterator, batch_size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == batch_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def inpaint_all(inpainter, items: Iterator, total: int, out_dir: Path, batch_size: int, model_size: int | None,
                fit: str = DEFAULT_FIT) -> int:
    """Runs the inpainter over the items in batches and writes each PNG atomically; images of another size
    than the model's are fitted to it by `fit` (jaxpaint.any_size)."""
    from tqdm import tqdm

    from jaxpaint.any_size import inpaint_any_size
    from jaxpaint.data.images import save_png_atomic

    written = 0
    with tqdm(total=total, desc="inpaint", unit="img") as progress:
        for chunk in chunks(items, batch_size):
            names, images, holes = zip(*chunk)
            for name, result in zip(names, inpaint_any_size(inpainter, list(images), list(holes), model_size, fit)):
                save_png_atomic(out_dir / name, result)
                written += 1
            progress.update(len(chunk))
    return written


# --- content-only against full-method grid -----------------------------------------------------


class ComparisonRecorder:
    """Wraps a method's inpainter and keeps, for the first `rows` images, the input, the first guess of
    its content inpainter (composited) and the method's result, for `write`."""

    def __init__(self, content, full, rows: int = COMPARE_ROWS):
        self.content, self.full, self.rows = content, full, rows
        self.columns: dict[str, list[np.ndarray]] = {"masked input": [], "content only": [], "full method": [],
                                                      "original": []}

    def __call__(self, images, holes):
        result = self.full(images, holes)
        take = max(0, self.rows - len(self.columns["original"]))
        if take:
            from jaxpaint.evaluation import masked_input
            from jaxpaint.report.grids import draw_example

            images, holes = np.asarray(images)[:take], np.asarray(holes, bool)[:take]
            content = np.where(holes[..., None], np.asarray(self.content(images, holes)), images)
            full = np.where(holes[..., None], np.asarray(result)[:take], images)
            for image, hole, first, final in zip(images, holes, content, full):
                self.columns["masked input"].append(draw_example(masked_input(image[None], hole[None])[0], hole=hole))
                self.columns["content only"].append(first)
                self.columns["full method"].append(final)
                self.columns["original"].append(image)
        return result

    def write(self, path) -> None:
        from jaxpaint.report.grids import save_grid

        save_grid(path, self.columns)


# --- the command --------------------------------------------------------------------------------


def run_config(workdir: str | None):
    """The run's saved config (with the fields its method gained since), or None without a workdir."""
    if workdir is None:
        return None
    from jaxpaint.inference import saved_config

    path = Path(workdir)
    if not path.exists():
        raise JaxpaintError(f"--workdir {workdir} does not exist")
    if not path.is_dir():
        raise JaxpaintError(f"--workdir {workdir} is a file, not the folder of a training run")
    return saved_config(path)


def check_arguments(args) -> None:
    """Numbers and paths, before anything is read or written."""
    from jaxpaint.data.images import check_output_path

    for flag, value in (("--batch-size", args.batch_size), ("--limit", args.limit)):
        if value is not None and value <= 0:
            raise JaxpaintError(f"{flag} must be a positive integer, got {value}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise JaxpaintError(f"--out {out} is a file; give a folder to create")
    inputs = {"--input": args.input, "--masks": args.masks, "--image": args.image, "--mask": args.mask,
              "--data-dir": args.data_dir, "--workdir": args.workdir}
    check_output_path(out, "--out", inputs)
    if out.is_dir() and any(out.iterdir()):
        raise JaxpaintError(f"--out {out} already exists and is not empty; remove it or choose another")


def choose_input(args, config, batch_size: int = 1, process: tuple[int, int] = (0, 1)) -> tuple[int, Iterator, dict | None]:
    """(count, items, blocks for maskdata.json or None). With `process` = (index, count) of several, a folder
    or split gives only this process's shard; one --image is the first process's."""
    modes = [name for name, given in (("--data-dir", args.data_dir), ("--input", args.input), ("--image", args.image)) if given]
    if len(modes) != 1:
        raise JaxpaintError("give exactly one input: --data-dir DIR --split S, --input DIR --masks maskdata.json, or --image a.png --mask m.png")
    index, count = process
    shard = (lambda total: shard_indices(total, batch_size, index, count)) if count > 1 else (lambda total: None)
    if args.image:
        if not args.mask:
            raise JaxpaintError("--image needs --mask (a PNG, nonzero = hole)")
        total, items = single_image(args.image, args.mask)
        return (total, items, None) if index == 0 else (0, iter(()), None)
    if args.input:
        if not args.masks:
            raise JaxpaintError("--input needs --masks maskdata.json")
        from jaxpaint.data.track import read_maskdata

        keep = shard(len(read_maskdata(args.masks))) if count > 1 else None
        return (*folder_with_maskdata(args.input, args.masks, keep), None)
    if not args.split:
        raise JaxpaintError("--data-dir needs --split")
    dataset = args.dataset or (config.get("data", {}).get("dataset") if config is not None else None)
    if not dataset:
        raise JaxpaintError("--data-dir needs --dataset (the run's config names none)")
    keep = shard(split_size(args.data_dir, dataset, args.split, args.limit))
    return dataset_split(args.data_dir, dataset, args.split, args.limit, keep, all_blocks=index == 0)


def join_processes(distributed: bool) -> tuple[int, int]:
    """(process index, process count): (0, 1) unless `--distributed` joins a jax.distributed job."""
    if not distributed:
        return 0, 1
    import jax

    from jaxpaint.engine.mesh import initialize_distributed

    initialize_distributed({"distributed": True})
    return jax.process_index(), jax.process_count()


def barrier(name: str, process_count: int) -> None:
    if process_count > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def run(args) -> int:
    from jaxpaint.data.images import staged_directory
    from jaxpaint.inference import load_inpainter
    from jaxpaint.methods import get_inpainting_method, is_trainable

    if args.model:
        from jaxpaint.releases import folder

        if args.workdir:
            raise JaxpaintError("give --model NAME or --workdir RUN, not both")
        args.workdir = str(folder(args.model))
    check_arguments(args)
    if args.distributed and args.compare_content:
        raise JaxpaintError("--compare-content draws one grid from one process; run it without --distributed")
    process_index, process_count = join_processes(args.distributed)
    config = run_config(args.workdir)
    method = args.method or (config.get("method") if config is not None else None)
    if not method:
        raise JaxpaintError("give --method, or --workdir of a training run")
    module = get_inpainting_method(method)  # a pose run or an unknown name fails here, before any work
    needs_content = getattr(module, "NEEDS_CONTENT", False)
    if args.compare_content and not needs_content:
        raise JaxpaintError(f"--compare-content: method {method!r} refines no first guess (patch_synthesis does)")
    if needs_content and config is None:
        config = module.default_config()
    if args.overrides:
        from jaxpaint.config import apply_overrides, check_config

        if config is None:
            from jaxpaint.inference import default_config

            config = default_config(method)
        config = apply_overrides(config, args.overrides)
        check_config(config, "the config with the overrides")
    if config is not None and is_trainable(module) and config.get("method") != method:
        raise JaxpaintError(f"--workdir {args.workdir} holds a {config.get('method')!r} run, not {method!r}")
    if config is not None and args.batch_size is not None:
        config.batch_size = args.batch_size
    batch_size = args.batch_size or (int(config.batch_size) if config is not None and "batch_size" in config else 16)
    model_size = config.get("data", {}).get("image_size") if config is not None else None
    if args.fit == "full" and model_size and not getattr(module, "FULLY_CONVOLUTIONAL", False):
        raise JaxpaintError(f"--fit full: method {method!r} is not fully convolutional; use --fit window or resize")

    total, items, blocks_by_name = choose_input(args, config, batch_size, (process_index, process_count))
    if total == 0 and process_count == 1:
        raise JaxpaintError("no images to inpaint (the input is empty)")
    recorder = None
    if args.compare_content:
        from jaxpaint.data.images import check_output_path
        from jaxpaint.inference import content_and_full_inpainters

        check_output_path(Path(args.compare_content), "--compare-content",
                          {"--out": args.out, "--input": args.input, "--image": args.image, "--mask": args.mask,
                           "--data-dir": args.data_dir})
        inpainter = recorder = ComparisonRecorder(*content_and_full_inpainters(module, config))
    else:
        inpainter = load_inpainter(method, workdir=args.workdir, config=config)
    out_dir = Path(args.out)
    if process_count == 1:
        # Built under a temporary name and moved in when complete: OUT is absent or whole.
        with staged_directory(out_dir) as staging:
            written = inpaint_all(inpainter, items, total, staging, batch_size, model_size, args.fit)
            write_blocks(staging, blocks_by_name)
        print(f"{written} images inpainted with {method} into {out_dir}")
    else:
        # Several processes share OUT: every one has checked it is empty before any writes, each PNG is
        # written atomically under its own name, and the first process writes maskdata.json.
        barrier("jaxpaint inpaint: output folder checked", process_count)
        out_dir.mkdir(parents=True, exist_ok=True)
        written = inpaint_all(inpainter, items, total, out_dir, batch_size, model_size, args.fit)
        if process_index == 0:
            write_blocks(out_dir, blocks_by_name)
        barrier("jaxpaint inpaint: every shard written", process_count)
        print(f"{written} images inpainted with {method} into {out_dir} (process {process_index} of {process_count})")
    if recorder is not None:
        recorder.write(args.compare_content)
        print(f"content-only against {method} grid of {len(recorder.columns['original'])} images: {args.compare_content}")
    return 0


def write_blocks(out_dir: Path, blocks_by_name: dict | None) -> None:
    """maskdata.json of a split's outputs (their blocks), so they can be scored."""
    if blocks_by_name:
        from jaxpaint.data.track import MASKDATA_NAME, write_maskdata

        write_maskdata(out_dir / MASKDATA_NAME, blocks_by_name)
