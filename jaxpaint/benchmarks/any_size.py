"""Photos of any size: the ways of fitting a full photograph to a model trained on 128 px crops, scored on the holes.

    jaxpaint bench any_size -- --manual-dir /path/to/lspet --data-dir DATA [--model unet-lspet-v1]

The photos are LSPET's full photographs (not the crops) of the people in the built
dataset's test split, so the model never trained on them. Each gets block holes drawn
by the project's mask rules (jaxpaint.data.masks, at the photo's own size, aimed at its
joints, seeded by its id). Every fit of jaxpaint.any_size inpaints the same holes, and
the diffusion fill through the same windows is the reference. Scores are per block on the
photo's own pixels (the competition's MSE, PSNR and DSSIM), averaged per photo, with the
standard error over photos; seconds are wall time per photo, compilation included.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from jaxpaint.benchmarks import format_machine, machine_info

BUCKET = 64  # photos are scored padded to a multiple of this, so few shapes compile (blocks never reach the padding)


def add_arguments(parser) -> None:
    parser.add_argument("--model", default="unet-lspet-v1", help="a released inpainter (jaxpaint models)")
    parser.add_argument("--workdir", help="a training run instead of --model")
    parser.add_argument("--manual-dir", required=True, help="the LSPET folder (joints.mat and images/)")
    parser.add_argument("--data-dir", required=True, help="where the LSPET crops were built (their test split picks the photos)")
    parser.add_argument("--dataset", default="lspet_128_seed0")
    parser.add_argument("--num-photos", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0, help="seed of the holes")
    parser.add_argument("--batch", type=int, default=16, help="photos per call of a fit")


def test_photos(manual_dir: str, data_dir: str, dataset: str, limit: int) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(image id, photo, joints xy (14, 2), present (14,)) of the first `limit` photos in the test split."""
    from jaxpaint.data.images import load_rgb
    from jaxpaint.data.loader import open_split
    from jaxpaint.data.sources.lspet import numbered_images, read_leeds_joints

    test = open_split(data_dir, dataset, "test")
    ids = list(dict.fromkeys(bytes(test[i]["image_id"]).decode() for i in range(len(test))))[:limit]
    xy, present, _ = read_leeds_joints(Path(manual_dir) / "joints.mat", "lspet")
    images = numbered_images(Path(manual_dir) / "images")
    photos = []
    for image_id in ids:
        number = int(image_id.removeprefix("im"))
        photos.append((image_id, load_rgb(images[number]), xy[number - 1], present[number - 1]))
    return photos


def photo_blocks(seed: int, image_id: str, photo: np.ndarray, xy: np.ndarray, present: np.ndarray) -> np.ndarray:
    from jaxpaint.data.masks import example_key, make_mask

    return make_mask(seed, example_key("lspet", image_id, "full photo"), *photo.shape[:2], xy, present)


def score_photos(results: list, photos: list, blocks: list) -> dict[str, np.ndarray]:
    """Per-photo block scores, photos of one padded shape scored together."""
    from jaxpaint.metrics.image import block_scores

    groups: dict[tuple, list[int]] = {}
    for i, photo in enumerate(photos):
        groups.setdefault(tuple(-(-s // BUCKET) * BUCKET for s in photo.shape[:2]), []).append(i)
    per_photo = {key: np.zeros(len(photos)) for key in ("mse", "psnr", "dssim")}
    for (height, width), members in groups.items():
        pad = lambda a: np.pad(a, ((0, height - a.shape[0]), (0, width - a.shape[1]), (0, 0)))
        most = max(len(blocks[i]) for i in members)
        block_array = np.zeros((len(members), most, 3), np.int32)
        for row, i in enumerate(members):
            block_array[row, :len(blocks[i])] = blocks[i]
        scores = block_scores(np.stack([pad(results[i]) for i in members]), np.stack([pad(photos[i]) for i in members]),
                              block_array, np.array([len(blocks[i]) for i in members]))
        for key in per_photo:
            per_photo[key][members] = scores[key]
    return per_photo


def timed_fit(inpaint, photos, holes, batch: int) -> tuple[list, float]:
    start = time.perf_counter()
    results = []
    for first in range(0, len(photos), batch):
        results += inpaint(photos[first:first + batch], holes[first:first + batch])
    return results, time.perf_counter() - start


def run(args) -> dict:
    from jaxpaint import any_size
    from jaxpaint.data.track import blocks_to_hole
    from jaxpaint.engine.checkpoint import load_config_json
    from jaxpaint.evaluation import mean_se
    from jaxpaint.inference import load_inpainter
    from jaxpaint.releases import folder

    workdir = Path(args.workdir) if args.workdir else folder(args.model)
    config = load_config_json(workdir)
    size = int(config.data.image_size)
    inpainter = load_inpainter(config.method, workdir)
    loaded = test_photos(args.manual_dir, args.data_dir, args.dataset, args.num_photos)
    ids, photos = [p[0] for p in loaded], [p[1] for p in loaded]
    blocks = [photo_blocks(args.seed, *p) for p in loaded]
    holes = [blocks_to_hole(b, *photo.shape[:2]) for b, photo in zip(blocks, photos)]
    diffusion = load_inpainter("diffusion")
    fits = {f"{config.method}, fit={fit}": (lambda ims, hs, fit=fit: any_size.inpaint_any_size(inpainter, ims, hs, size, fit))
            for fit in any_size.FITS}
    # The reference through the same windows: the harmonic solve on whole photos costs seconds each.
    fits["diffusion, fit=window (reference)"] = lambda ims, hs: any_size.inpaint_windows(diffusion, ims, hs, size)
    rows = []
    for name, inpaint in fits.items():
        results, seconds = timed_fit(inpaint, photos, holes, args.batch)
        scores = score_photos(results, photos, blocks)
        row = {"fit": name, "seconds_per_photo": round(seconds / len(photos), 3)}
        for key, values in scores.items():
            mean, se = mean_se(values)
            row[key], row[f"{key}_se"] = round(mean, 4), round(se, 4)
        rows.append(row)
        print(f"{name:40s} DSSIM {row['dssim']:.4f} ± {row['dssim_se']:.4f}  MSE {row['mse']:.4f} ± {row['mse_se']:.4f}  "
              f"PSNR {row['psnr']:.2f}  {row['seconds_per_photo']:.2f} s/photo", flush=True)
    shapes = np.array([p.shape[:2] for p in photos])
    machine = machine_info()
    print(f"{len(photos)} LSPET test photographs ({shapes[:, 0].min()}-{shapes[:, 0].max()} x "
          f"{shapes[:, 1].min()}-{shapes[:, 1].max()} px), {sum(map(len, blocks))} blocks; model {workdir} "
          f"(trained at {size} px); machine: {format_machine(machine)}")
    return {"machine": machine, "model": str(workdir), "photos": len(photos), "photo_ids": ids,
            "blocks": int(sum(map(len, blocks))), "rows": rows}
