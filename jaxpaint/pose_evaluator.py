"""A trained Stacked Hourglass run as a batched pose predictor, for WNJD and PCK.

    evaluator = PoseEvaluator.load("runs/pose_small")
    xy, present = evaluator.predict(images_uint8)        # (B, 19, 2) pixels, (B, 19)
    scores = wnjd(xy, present, true_xy, true_present, images_uint8.shape[1:3])

Images of any square size are accepted; they are resized to the network's input
size and the joints come back in the caller's pixels. Batches are padded to a
fixed chunk size so that every call reuses one compiled function. A chunk seen
before is answered from memory: a job that scores several methods on one split
predicts the unmasked originals once, not once a method (with a VGG front end, that
is most of the pose evaluation's cost).
"""

from __future__ import annotations

import collections
import hashlib

import jax
import jax.numpy as jnp
import numpy as np

from jaxpaint.data.joints import NUM_SLOTS
from jaxpaint.engine.inpaint import pad_to
from jaxpaint.errors import JaxpaintError
from jaxpaint.ops.pixels import to_model

DEFAULT_CHUNK = 32
REMEMBERED_CHUNKS = 4096  # predictions kept for repeated chunks: 128k images, about 10 MB


class PoseEvaluator:
    """Predicts joints with the last stack of a trained hourglass, jitted per image size."""

    def __init__(self, config, variables: dict, chunk: int = DEFAULT_CHUNK, source: str = "<memory>"):
        """variables: params, batch_stats and, for a backbone config, "backbone" (as `load_trained` gives)."""
        from jaxpaint.methods import pose as pose_method

        self.config = config
        self.chunk = int(chunk)
        self.source = source
        self.variables = variables
        self._remembered: collections.OrderedDict[bytes, tuple[np.ndarray, np.ndarray]] = collections.OrderedDict()

        def predict_float(variables, images_u8):
            return pose_method.predict_joints(config, variables["params"], variables["batch_stats"],
                                              to_model(images_u8), variables.get("backbone"))

        self._predict = jax.jit(predict_float)

    @classmethod
    def load(cls, workdir, chunk: int = DEFAULT_CHUNK, peak_threshold: float | None = None) -> "PoseEvaluator":
        """The latest checkpoint of the hourglass training run in `workdir`; `peak_threshold`
        replaces the run's model.peak_threshold (the heatmap peak below which a joint is not found)."""
        from jaxpaint.methods import pose as pose_method

        config, variables = pose_method.load_trained(workdir)
        if peak_threshold is not None:
            config.model.peak_threshold = float(peak_threshold)
        return cls(config, variables, chunk=chunk, source=str(workdir))

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (B, S, S, 3) -> xy float32 (B, 19, 2) in the images' pixels, present bool (B, 19)."""
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3 or images.shape[1] != images.shape[2]:
            raise JaxpaintError(
                f"pose evaluator {self.source}: expected uint8 images of shape (B, S, S, 3), "
                f"got {images.dtype} {images.shape}"
            )
        xy_parts, present_parts = [], []
        for start in range(0, len(images), self.chunk):
            xy, present = self._predict_chunk(images[start:start + self.chunk])
            xy_parts.append(xy)
            present_parts.append(present)
        if not xy_parts:
            return np.zeros((0, NUM_SLOTS, 2), np.float32), np.zeros((0, NUM_SLOTS), bool)
        return np.concatenate(xy_parts), np.concatenate(present_parts)

    def _predict_chunk(self, part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The prediction of one chunk of uint8 images, remembered by the images' bytes."""
        key = hashlib.sha1(np.ascontiguousarray(part).data).digest() + repr(part.shape).encode()
        if key in self._remembered:
            self._remembered.move_to_end(key)
            return tuple(a.copy() for a in self._remembered[key])
        xy, present = jax.device_get(self._predict(self.variables, pad_to(part, self.chunk)))
        result = np.asarray(xy[: len(part)], np.float32), np.asarray(present[: len(part)], bool)
        self._remembered[key] = tuple(a.copy() for a in result)
        if len(self._remembered) > REMEMBERED_CHUNKS:
            self._remembered.popitem(last=False)
        return result
