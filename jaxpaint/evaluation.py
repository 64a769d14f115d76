"""Scoring a method on a dataset split: per-block image metrics plus the pose metrics.

`evaluate_batches` is the loop shared by `jaxpaint evaluate` and `jaxpaint run`:
it inpaints every batch, scores each image per block (MSE, PSNR, DSSIM) and, given
an LPIPS metric, as a whole (LPIPS VGG and AlexNet of the composite against the
original); with a pose evaluator it adds WNJD and PCK against the labels and WNJD
against the pose predicted on the unmasked original (what inpainting loses).

`table_row` makes a results-table row with the uncertainty a reader needs: the standard error of
each pose mean, and the paired difference from the diffusion fill on the same images (pairing
removes the spread between images, which is larger than most differences between methods).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterable

import numpy as np
from tqdm import tqdm

from jaxpaint.report.tables import REFERENCE

Inpainter = Callable[[np.ndarray, np.ndarray], np.ndarray]

SE_KEYS = ("wnjd", "pck")  # means shown with their standard error
PAIRED_KEYS = ("dssim", "wnjd")  # compared image by image with the reference fill


@dataclasses.dataclass
class Evaluation:
    """Per-image scores (name -> (N,) array), a few examples for the picture grid, and the images with
    the highest WNJD as a grid's columns (empty without a pose evaluator)."""

    per_image: dict[str, np.ndarray]
    samples: dict[str, list[np.ndarray]]
    worst: dict[str, list[np.ndarray]] = dataclasses.field(default_factory=dict)

    def means(self) -> dict[str, float]:
        # nanmean: pose scores are NaN for an image with no labelled joint in the reference pose.
        return {k: float(np.nanmean(v)) for k, v in self.per_image.items()}


def mean_se(values) -> tuple[float, float]:
    """Mean and standard error of the mean, std(ddof=1)/sqrt(n), over the finite values (a pose score is
    NaN, or null in results.json, for an image with no labelled joint); NaN where there are too few."""
    values = np.asarray(values, dtype=float)  # None -> NaN
    values = values[np.isfinite(values)]
    mean = float(values.mean()) if len(values) else float("nan")
    se = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")
    return mean, se


def paired_difference(values, reference) -> tuple[float, float]:
    """Mean over images of values_i - reference_i and its standard error, on the first images both were
    scored on (an evaluation scores a split in its fixed order; a capped one scores its first N images)."""
    n = min(len(values), len(reference))
    return mean_se(np.asarray(values[:n], dtype=float) - np.asarray(reference[:n], dtype=float))


def reference_scores(results: dict, reference: dict | None) -> dict | None:
    """The reference fill's per-image scores to pair an evaluation with (both evaluate_method's results or
    results.json): None for the reference itself and for an evaluation of another dataset or split."""
    if reference is None or results is reference:
        return None
    same = all(results.get(k) == reference.get(k) for k in ("dataset", "split"))
    return reference["per_image"] if same else None


def table_row(label: str, means: dict, per_image: dict, reference: dict | None = None) -> dict:
    """A table row: the means, `KEY_se` for SE_KEYS and, given the reference fill's per-image scores on the
    same images, `KEY_vs_diffusion` and `KEY_vs_diffusion_se` for PAIRED_KEYS. `means` may be a row already
    (results.json's "original"): its label gives way to `label`, and its figures to those computed here."""
    row = {"method": label, **{k: v for k, v in means.items() if k != "method"}}
    for key in SE_KEYS:
        if key in per_image:
            row[f"{key}_se"] = mean_se(per_image[key])[1]
    for key in PAIRED_KEYS if reference else ():
        if key in per_image and key in reference:
            mean, se = paired_difference(per_image[key], reference[key])
            row[f"{key}_vs_{REFERENCE}"], row[f"{key}_vs_{REFERENCE}_se"] = mean, se
    return row


def masked_input(images: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The inputs as a person sees them: holes black (as in the competition's X/ folder)."""
    return np.where(hole[..., None], 0, images).astype(np.uint8)


def pose_scores(pred, original_pred, batch, hw) -> dict[str, np.ndarray]:
    """WNJD and PCK of a predicted pose against the labels, and WNJD against the original's predicted pose."""
    from jaxpaint.metrics import pose

    (pred_xy, pred_present), (orig_xy, orig_present) = pred, original_pred
    true_xy, true_present = batch["joints_xy"], batch["joints_present"]
    return {
        "wnjd": np.asarray(pose.wnjd(pred_xy, pred_present, true_xy, true_present, hw)),
        "pck": np.asarray(pose.pck(pred_xy, pred_present, true_xy, true_present)),
        "wnjd_vs_original": np.asarray(pose.wnjd(pred_xy, pred_present, orig_xy, orig_present, hw)),
    }


def evaluate_batches(
    inpainter: Inpainter,
    batches: Iterable[dict],
    pose_evaluator=None,
    num_samples: int = 8,
    total: int | None = None,
    desc: str = "evaluate",
    lpips=None,
    num_worst: int = 4,
) -> tuple[Evaluation, Evaluation | None]:
    """Scores `inpainter` over `batches`; also scores the unmasked originals when a pose evaluator is given.

    Returns (method evaluation, originals evaluation or None). Image metrics of the
    originals are zero by definition; their pose scores are the reference row.
    `lpips` (jaxpaint.metrics.lpips.Lpips) adds the lpips_vgg and lpips_alex columns.
    With a pose evaluator the `num_worst` images of highest WNJD are kept as they were scored
    (no method is run twice: some take minutes an image).
    """
    from jaxpaint.metrics.image import block_scores

    scores: dict[str, list] = {}
    reference: dict[str, list] = {}
    samples: dict[str, list] = {"input": [], "output": [], "ground truth": []}
    worst: list[tuple] = []
    seen = 0
    for batch in tqdm(batches, total=total, desc=desc, unit="batch"):
        images, hole = batch["image"], batch["hole"]
        outputs = np.asarray(inpainter(images, hole))
        if not np.array_equal(outputs[~hole], images[~hole]):
            raise RuntimeError("the inpainter changed known pixels; methods must return them exactly")
        batch_scores = {k: np.asarray(v) for k, v in block_scores(outputs, images, batch["blocks"], batch["num_blocks"]).items()}
        if lpips is not None:
            batch_scores.update(lpips(outputs, images))  # outputs are composites: known pixels were checked above
        pred_out = None
        if pose_evaluator is not None:
            hw = images.shape[1:3]
            pred_orig = tuple(np.asarray(a) for a in pose_evaluator.predict(images))
            pred_out = tuple(np.asarray(a) for a in pose_evaluator.predict(outputs))
            batch_scores.update(pose_scores(pred_out, pred_orig, batch, hw))
            for k, v in pose_scores(pred_orig, pred_orig, batch, hw).items():
                reference.setdefault(k, []).append(v)
            worst = _keep_worst(worst, batch, outputs, pred_out, batch_scores["wnjd"], seen, num_worst)
        seen += len(images)
        for k, v in batch_scores.items():
            scores.setdefault(k, []).append(v)
        _collect_samples(samples, batch, outputs, pred_out, num_samples)
    evaluation = Evaluation({k: np.concatenate(v) for k, v in scores.items()}, samples, _draw_worst(worst))
    originals = None
    if pose_evaluator is not None:
        per_image = {k: np.concatenate(v) for k, v in reference.items()}
        n = len(per_image["wnjd"])
        per_image.update(dssim=np.zeros(n), mse=np.zeros(n))
        if lpips is not None:
            per_image.update(lpips_vgg=np.zeros(n), lpips_alex=np.zeros(n))
        originals = Evaluation(per_image, {})
    return evaluation, originals


def _keep_worst(worst: list[tuple], batch, outputs, pred_out, wnjd, start: int, limit: int) -> list[tuple]:
    """The `limit` images of highest finite WNJD so far (ties: the earlier image), as (wnjd, index, arrays)."""
    for i, value in enumerate(np.asarray(wnjd, float)):
        if np.isfinite(value):
            worst.append((value, start + i, {"image": batch["image"][i], "hole": batch["hole"][i], "output": outputs[i],
                                             "pred": (pred_out[0][i], pred_out[1][i]),
                                             "labels": (batch["joints_xy"][i], batch["joints_present"][i])}))
    return sorted(worst, key=lambda item: (-item[0], item[1]))[:limit]


def _draw_worst(worst: list[tuple]) -> dict[str, list[np.ndarray]]:
    """Grid columns of the kept images: the input, the output with the evaluator's pose, the labelled truth."""
    from jaxpaint.report.grids import draw_example

    if not worst:
        return {}
    columns: dict[str, list] = {"input": [], "output (highest WNJD)": [], "ground truth": []}
    for _, _, item in worst:
        columns["input"].append(draw_example(masked_input(item["image"][None], item["hole"][None])[0], hole=item["hole"]))
        columns["output (highest WNJD)"].append(draw_example(item["output"], joints_xy=item["pred"][0],
                                                             joints_present=item["pred"][1], skeleton=False))
        columns["ground truth"].append(draw_example(item["image"], joints_xy=item["labels"][0],
                                                    joints_present=item["labels"][1]))
    return columns


def _collect_samples(samples, batch, outputs, pred_out, limit) -> None:
    from jaxpaint.report.grids import draw_example

    for i in range(len(outputs)):
        if len(samples["input"]) >= limit:
            return
        hole = batch["hole"][i]
        out_joints = (pred_out[0][i], pred_out[1][i]) if pred_out is not None else (None, None)
        samples["input"].append(draw_example(masked_input(batch["image"][i : i + 1], hole[None])[0], hole=hole))
        samples["output"].append(draw_example(outputs[i], joints_xy=out_joints[0], joints_present=out_joints[1], skeleton=False))
        samples["ground truth"].append(
            draw_example(batch["image"][i], joints_xy=batch["joints_xy"][i], joints_present=batch["joints_present"][i])
        )
