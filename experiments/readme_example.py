"""The README's first example: a photo-sized picture of a person, its mask, and the before/after figure.

    python experiments/readme_example.py            # writes docs/example/{person,mask,before_after}.png

The picture is a scene of jaxpaint's own synthetic-human source (seed 11, scene 1), cut to
180 x 240 px so that it is not the square crop a model trains on; the project may
redistribute it. The mask has two holes, on the chest and on a knee. The figure
is masked input | `jaxpaint inpaint --model unet-lspet-v1` | original, at twice the size.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from jaxpaint.cli import main
from jaxpaint.data.images import load_rgb, save_png_atomic
from jaxpaint.data.sources.synthetic import render_scene
from jaxpaint.evaluation import masked_input
from jaxpaint.report.grids import draw_example, save_grid

OUT = Path(__file__).resolve().parents[1] / "docs" / "example"
MODEL = "unet-lspet-v1"
HOLES = ((74, 62, 34), (128, 74, 22))  # (row, col, side) in the 180 x 240 picture: the chest and a knee


def picture_and_mask() -> tuple[np.ndarray, np.ndarray]:
    scene, _ = render_scene(11, 1, 160)  # 240 x 240
    picture = np.ascontiguousarray(scene[:, 30:210])
    hole = np.zeros(picture.shape[:2], bool)
    for row, col, side in HOLES:
        hole[row:row + side, col:col + side] = True
    return picture, hole


def main_example() -> int:
    picture, hole = picture_and_mask()
    save_png_atomic(OUT / "person.png", picture)
    save_png_atomic(OUT / "mask.png", hole.astype(np.uint8) * 255)
    with tempfile.TemporaryDirectory() as tmp:
        code = main(["inpaint", "--model", MODEL, "--image", str(OUT / "person.png"), "--mask", str(OUT / "mask.png"),
                     "--out", str(Path(tmp) / "out")])
        if code:
            return code
        result = load_rgb(Path(tmp) / "out" / "person.png")
    save_grid(OUT / "before_after.png", {"input": [draw_example(masked_input(picture[None], hole[None])[0], hole=hole)],
                                         f"inpaint --model {MODEL}": [result], "original": [picture]}, scale=2)
    print(f"written: {OUT / 'before_after.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main_example())
