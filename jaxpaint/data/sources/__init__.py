"""Source readers: each turns a source's own on-disk format into `SourceImage`s.

A reader never touches JAX. Each module defines:
  NAME: str                           the --source name
  CROP: bool                          False where the thesis uses whole images (LSP, BBC Pose)
  MANUAL_DOWNLOAD_INSTRUCTIONS: str   what to put in --manual-dir
  iter_images(manual_dir: str | None, **options) -> Iterator[SourceImage]
Readers raise `jaxpaint.errors.JaxpaintError` naming the file and the problem.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Callable

import numpy as np

from jaxpaint.data.joints import Pose

SOURCE_NAMES = ("synthetic", "lspet", "lsp", "mpii", "flic", "synchronic", "bbc")


@dataclasses.dataclass
class SourceImage:
    """One source image with every annotated person in it.

    image_id: unique within the source; crops that share it share a split.
    path: the file the pixels come from ("" for generated images), for error messages.
    load: returns the image as uint8 (H, W, 3); raises JaxpaintError naming `path` if unreadable.
    people: one Pose per annotated person, in the image's pixel coordinates.
    """

    image_id: str
    path: str
    load: Callable[[], np.ndarray]
    people: list[Pose]


def get_source(name: str):
    """The reader module for a --source name."""
    if name not in SOURCE_NAMES:
        raise ValueError(f"unknown source {name!r}; expected one of {', '.join(SOURCE_NAMES)}")
    return importlib.import_module(f"jaxpaint.data.sources.{name}")
