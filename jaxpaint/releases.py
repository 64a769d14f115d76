"""Released models: trained weights that ship with jaxpaint, loaded by name.

Each lives in jaxpaint/released/NAME/ as a folder that `restore_state` reads like a
training run (config.json, batch_spec.json) with weights.msgpack and its sha256
instead of checkpoints, plus card.json: what it is, the data it was trained on and
that data's terms, its test scores, and the command that rebuilds it.

    jaxpaint models                                   the list, with scores and sizes
    jaxpaint inpaint --model NAME --image a.jpg --mask m.png --out out/
    jaxpaint evaluate ... --pose-model NAME           (also score, run --suite)
    jaxpaint models release --workdir RUN --name NAME --data-dir DATA [--pose-model NAME]
    jaxpaint models rebuild NAME --manual-dir LSPET --workdir W
"""

from __future__ import annotations

import json
from pathlib import Path

from jaxpaint.errors import JaxpaintError

RELEASE_DIR = Path(__file__).resolve().parent / "released"
CARD_FILE = "card.json"
POSE_METHODS = ("hourglass",)
LICENCES = {
    "lspet": "LSPET (Johnson and Everingham, CVPR 2011; Flickr images): for research use only; cite the paper",
    "synthetic": "jaxpaint's built-in synthetic humans: same licence as jaxpaint",
}


def names() -> list[str]:
    return sorted(p.name for p in RELEASE_DIR.glob(f"*/{CARD_FILE}") for p in [p.parent])


def folder(name: str) -> Path:
    """The released model's folder; an unknown name is an error that lists the known ones."""
    if name not in names():
        raise JaxpaintError(f"no released model named {name!r}; released: {', '.join(names()) or 'none'} "
                            "(jaxpaint models lists them)")
    return RELEASE_DIR / name


def resolve(value: str | None, flag: str) -> str | None:
    """A run given as a released model's name or as a folder: the folder's path (None stays None)."""
    if value is None:
        return None
    if value in names() and not Path(value).exists():
        return str(folder(value))
    if not Path(value).is_dir():
        raise JaxpaintError(f"{flag} {value} is neither a released model ({', '.join(names()) or 'none'}) "
                            "nor the folder of a training run")
    return value


def read_card(model_dir: Path) -> dict:
    path = Path(model_dir) / CARD_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise JaxpaintError(f"{path}: unreadable model card ({err})") from None


SCORE_COLUMNS = (("dssim", "DSSIM"), ("mse", "MSE"), ("psnr", "PSNR"), ("wnjd", "WNJD"), ("pck", "PCK@0.2"))


def listing() -> str:
    """The released models as a Markdown table: kind, method, trained on, test scores, weight size."""
    rows = ["| model | kind | method | trained on | test scores | weights |", "|---|---|---|---|---|---|"]
    for name in names():
        card = read_card(RELEASE_DIR / name)
        scores = card["scores"]
        shown = ", ".join(f"{label} {scores[key]:.4g}" for key, label in SCORE_COLUMNS if scores.get(key) is not None)
        size = (RELEASE_DIR / name / card["weights"]["file"]).stat().st_size
        rows.append(f"| {name} | {card['kind']} | {card['method']} ({card['config']}) | {card['data']['dataset']}, "
                    f"{card['steps']} steps | {shown} on {scores['images']} {scores['split']} images | "
                    f"{size / 1e6:.2f} MB |")
    return "\n".join(rows)


# --- making a release ---------------------------------------------------------------------------


def pose_scores(model_dir: Path, data_dir: str, dataset: str, batch_size: int = 64) -> dict:
    """PCK@0.2 and WNJD of a pose evaluator on the unmasked test crops, each with its standard error."""
    import numpy as np

    from jaxpaint.data import loader
    from jaxpaint.metrics import pose as pose_metrics
    from jaxpaint.pose_evaluator import PoseEvaluator
    from tqdm import tqdm

    evaluator = PoseEvaluator.load(model_dir)
    source = loader.open_split(data_dir, dataset, "test")
    batches = loader.batch_dataset(source, batch_size, seed=0, shuffle=False, drop_remainder=False)
    pck, wnjd = [], []
    for i in tqdm(range(len(batches)), desc="pose scores", unit="batch"):
        batch = batches[i]
        xy, present = evaluator.predict(batch["image"])
        pck.append(np.asarray(pose_metrics.pck(xy, present, batch["joints_xy"], batch["joints_present"], alpha=0.2)))
        wnjd.append(np.asarray(pose_metrics.wnjd(xy, present, batch["joints_xy"], batch["joints_present"],
                                                 batch["image"].shape[1:3])))
    result = {"split": "test", "images": int(sum(len(p) for p in pck))}
    for key, values in (("pck", np.concatenate(pck)), ("wnjd", np.concatenate(wnjd))):
        values = values[np.isfinite(values)]
        result[key] = round(float(values.mean()), 4)
        result[f"{key}_se"] = round(float(values.std(ddof=1) / np.sqrt(len(values))), 4)
    return result


def inpainter_scores(workdir: Path, method: str, data_dir: str, dataset: str, pose_model: str | None,
                     out: Path) -> dict:
    """The evaluation of `jaxpaint evaluate` on the whole test split, rounded for the card."""
    from jaxpaint.commands.evaluate import evaluate_method

    results = evaluate_method(method, str(workdir), data_dir, dataset, "test", pose_model, out=str(out), lpips=False)
    scores = {"split": "test", "images": results["num_images"]}
    scores.update({k: round(float(v), 4) for k, v in results["means"].items() if v is not None})
    return scores


def build_arguments(dataset: str) -> dict:
    """`jaxpaint data build`'s arguments of a dataset name (builder.config_name's inverse)."""
    import re

    match = re.fullmatch(r"(?P<source>[a-z]+)_(?P<size>\d+)_seed(?P<seed>\d+)(?:_n(?P<num>\d+))?", dataset)
    if match is None:
        raise JaxpaintError(f"dataset {dataset!r} is not a name that `jaxpaint data build` gives")
    num = match["num"]
    return {"source": match["source"], "size": int(match["size"]), "seed": int(match["seed"]),
            "num_examples": int(num) if num else None}


def write_release(workdir: Path, out_dir: Path, name: str, data_dir: str, config_spec: str,
                  pose_model: str | None = None, rebuild: str = "") -> dict:
    """Scores the run in `workdir` on its dataset's test split and writes its release folder `out_dir`
    (config, batch spec, checked weights, card). The folder is staged and moved in whole."""
    import shutil

    from jaxpaint.data.images import staged_directory, write_bytes_atomic
    from jaxpaint.data.loader import resolve_dataset
    from jaxpaint.engine import checkpoint as ckpt
    from jaxpaint.inference import restore_run

    config, state = restore_run(workdir)
    dataset = resolve_dataset(data_dir, None, config)
    kind = "pose evaluator" if config.method in POSE_METHODS else "inpainter"
    source = build_arguments(dataset)["source"]
    with staged_directory(out_dir) as staging:
        for file in (ckpt.CONFIG_FILE, ckpt.BATCH_SPEC_FILE):
            shutil.copyfile(Path(workdir) / file, staging / file)
        sha256 = ckpt.save_weights(state, staging)
        if kind == "pose evaluator":
            scores = pose_scores(staging, data_dir, dataset)
        else:
            scores = inpainter_scores(staging, config.method, data_dir, dataset, pose_model, Path(workdir) / "release_eval")
            scores["pose_model"] = Path(pose_model).name if pose_model else None
        card = {
            "name": name, "kind": kind, "method": config.method, "config": config_spec,
            "steps": int(state.step), "seed": int(config.seed),
            "data": {"dataset": dataset, **build_arguments(dataset),
                     "licence": LICENCES.get(source, "see the source's terms")},
            "scores": scores,
            "weights": {"file": ckpt.WEIGHTS_FILE, "bytes": (staging / ckpt.WEIGHTS_FILE).stat().st_size,
                        "sha256": sha256},
            "rebuild": rebuild or f"jaxpaint models rebuild {name} --manual-dir /path/to/{source} --workdir runs/rebuild_{name}",
        }
        write_bytes_atomic(staging / CARD_FILE, (json.dumps(card, indent=2) + "\n").encode())
    return card


def rebuild(name: str, manual_dir: str | None, workdir: Path) -> dict:
    """The released model `name` again from its card: its dataset built into WORKDIR/data, its config
    trained into WORKDIR/run (resumable) on the same seed, and its release written to WORKDIR/NAME;
    says whether the weights are the shipped ones byte for byte."""
    from jaxpaint.data import builder
    from jaxpaint.engine.checkpoint import load_config_json
    from jaxpaint.train.loop import train_and_evaluate

    shipped = folder(name)
    card, config = read_card(shipped), load_config_json(shipped)
    data = {k: card["data"][k] for k in ("source", "size", "seed", "num_examples")}
    data_dir = workdir / "data"
    builder.build(data["source"], data_dir, manual_dir=manual_dir, size=data["size"], seed=data["seed"],
                  num_examples=data["num_examples"])
    with config.unlocked():
        config.data.data_dir = str(data_dir)
    train_and_evaluate(config, workdir / "run")  # takes the run's writer lock; resumes an interrupted rebuild
    pose_model = card["scores"].get("pose_model")
    rebuilt = write_release(workdir / "run", workdir / name, name, str(data_dir), card["config"],
                            str(folder(pose_model)) if pose_model else None, card["rebuild"])
    same = rebuilt["weights"]["sha256"] == card["weights"]["sha256"]
    print(f"rebuilt {name} in {workdir / name}: weights sha256 {rebuilt['weights']['sha256']} "
          + ("equal to the shipped weights" if same else f"differs from the shipped {card['weights']['sha256']} "
             "(another machine type rounds differently; compare the scores)"))
    return rebuilt
