"""Leeds Sports Pose (LSP, Johnson & Everingham 2010): 2000 sports images, one person each.

On disk: `joints.mat` with `joints` of shape (3, 14, 2000) and
`images/im0001.jpg ...`. The joint order is LSPET's (see `lspet.LEEDS_TABLE`),
but the third row is an occlusion flag: 0 = visible, 1 = occluded. Every joint
is annotated, occluded ones at their estimated position, so all are present.
The thesis uses LSP images whole (its images are already person-centred).
"""

from __future__ import annotations

import os
from typing import Iterator

from jaxpaint.data.sources import SourceImage
from jaxpaint.data.sources.lspet import iter_leeds_images

NAME = "lsp"
CROP = False
MANUAL_DOWNLOAD_INSTRUCTIONS = (
    "Download lsp_dataset.zip from http://sam.johnson.io/research/lsp.html and unpack it so that "
    "--manual-dir holds joints.mat and images/im0001.jpg ..."
)


def iter_images(manual_dir: str | os.PathLike | None, limit: int | None = None) -> Iterator[SourceImage]:
    """LSP images with one person each; `limit` keeps the first images only."""
    return iter_leeds_images(manual_dir, "lsp", limit)
