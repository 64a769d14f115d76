"""Rendering speed of the synthetic-human source on one core, next to PIL JPEG decoding.

Every figure is single-process images per second; each is timed `--repeats` times and
reported as best and median, because a shared machine makes single timings noisy. Each
timing is taken twice over: per wall-clock second, and per second of this process's CPU
time, which stays close to the idle-machine figure when other jobs share the cores.
The reference decodes a JPEG of one rendered scene (same pixel count), which is what
reading a real source image costs, so the ratio says how the built-in source compares
with reading photos from disk.
"""

from __future__ import annotations

import io
import statistics
import time

import numpy as np
from PIL import Image

from jaxpaint.benchmarks import format_machine, machine_info
from jaxpaint.data.sources import synthetic


def add_arguments(parser) -> None:
    parser.add_argument("--size", type=int, default=128, help="requested image size (scenes are 1.5x this)")
    parser.add_argument("--count", type=int, default=300, help="images per timing")
    parser.add_argument("--repeats", type=int, default=5, help="timings per figure")
    parser.add_argument("--seed", type=int, default=0)


def _rates(fn, count: int, repeats: int) -> dict:
    """Calls fn(0..count-1) `repeats` times; images per wall second and per CPU second."""
    wall, cpu = [], []
    for _ in range(repeats):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for i in range(count):
            fn(i)
        wall.append(count / (time.perf_counter() - wall0))
        cpu.append(count / max(time.process_time() - cpu0, 1e-9))
    return {"wall": _summary(wall), "cpu": _summary(cpu)}


def _summary(rates: list[float]) -> dict:
    return {"best": round(max(rates), 1), "median": round(statistics.median(rates), 1),
            "all": [round(r, 1) for r in rates]}


def _line(label: str, rates: dict) -> str:
    w, c = rates["wall"], rates["cpu"]
    return (f"  {label:<34} {w['best']:8.1f} / {w['median']:8.1f} per wall s   "
            f"{c['best']:8.1f} / {c['median']:8.1f} per CPU s")


def run(args) -> dict:
    info = machine_info()
    size, count, repeats, seed = args.size, args.count, args.repeats, args.seed
    synthetic.render_scene(seed, 0, size)  # warm the cached noise tile and pixel grids

    render = _rates(lambda i: synthetic.render_scene(seed, i, size), count, repeats)
    labels = _rates(lambda i: synthetic.scene_pose(seed, i, size), count, repeats)

    def source_image(i: int) -> None:
        synthetic.scene_pose(seed, i, size)
        synthetic.render_scene(seed, i, size)

    pipeline = _rates(source_image, count, repeats)

    buffer = io.BytesIO()
    Image.fromarray(synthetic.render_scene(seed, 0, size)[0]).save(buffer, format="JPEG", quality=90)
    jpeg = buffer.getvalue()
    decode = _rates(lambda i: np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")), count, repeats)

    scene = synthetic.scene_size(size)
    figures = {
        "benchmark": "synthetic",
        "size": size,
        "scene_px": scene,
        "count": count,
        "repeats": repeats,
        "render_scene_images_per_s": render,
        "scene_pose_labels_per_s": labels,
        "source_image_labels_and_pixels_per_s": pipeline,
        "reference_pil_jpeg_decode_images_per_s": decode,
        "machine": info,
    }
    print(f"synthetic source, {scene}x{scene} px scenes (size {size}), single process, "
          f"{count} images x {repeats} timings, images/s (best / median):")
    print(_line("render_scene (pixels + labels)", render))
    print(_line("scene_pose (labels only)", labels))
    print(_line("iter_images + load (both)", pipeline))
    print(_line(f"reference: PIL JPEG decode {len(jpeg)} B", decode))
    print(f"  machine: {format_machine(info)}")
    return figures
