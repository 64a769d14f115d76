"""`jaxpaint models`: the released models (list, release a trained run, rebuild one from its card).

A release is written by scoring a trained run on its dataset's test split and copying
what inference needs into a release folder (jaxpaint.releases describes the folder);
`rebuild` runs a card's recipe again: build, train on the same seed, release.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from jaxpaint import releases
from jaxpaint.errors import JaxpaintError


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="the released trained models: list, release, rebuild")
    sub = p.add_subparsers(dest="action")
    release = sub.add_parser("release", help="score a trained run on its test split and write it as a released model")
    release.add_argument("--workdir", required=True, help="the training run")
    release.add_argument("--name", required=True, help="the model's name, e.g. unet-lspet-v1")
    release.add_argument("--config", required=True, help="the config it was trained from, e.g. unet:lspet")
    release.add_argument("--data-dir", required=True, help="the folder its dataset was built into")
    release.add_argument("--pose-model", help="pose evaluator for an inpainter's WNJD and PCK (name or run folder)")
    release.add_argument("--out", help="the release folder to write (default: jaxpaint/released/NAME)")
    rebuild = sub.add_parser("rebuild", help="build the data, train and release a model again from its card")
    rebuild.add_argument("name", help="a released model's name")
    rebuild.add_argument("--manual-dir", help="the source's downloaded files (e.g. the LSPET folder)")
    rebuild.add_argument("--workdir", required=True, help="folder for the data, the run and the rebuilt release")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.action is None:
        print(releases.listing())
        print(f"\nEach folder in {releases.RELEASE_DIR} holds card.json (data, licence, scores, rebuild command).")
        return 0
    if args.action == "rebuild":
        releases.folder(args.name)
        rebuild(args.name, args.manual_dir, Path(args.workdir))
        return 0
    from jaxpaint.data.images import check_output_path

    out = Path(args.out) if args.out else releases.RELEASE_DIR / args.name
    if not Path(args.workdir).is_dir():
        raise JaxpaintError(f"--workdir {args.workdir} is not the folder of a training run")
    check_output_path(out, "--out", {"--workdir": args.workdir, "--data-dir": args.data_dir})
    pose_model = releases.resolve(args.pose_model, "--pose-model")
    card = write_release(Path(args.workdir), out, args.name, args.data_dir, args.config, pose_model)
    print(f"released {args.name} into {out}: {card['weights']['bytes'] / 1e6:.2f} MB, sha256 {card['weights']['sha256']}")
    return 0


def pose_scores(model_dir: Path, data_dir: str, dataset: str, batch_size: int = 64) -> dict:
    """PCK@0.2 and WNJD of a pose evaluator on the unmasked test crops, each with its standard error, and
    PCK@0.2 per joint type (over every labelled joint of that type, left and right together)."""
    import numpy as np

    from jaxpaint.data import loader
    from jaxpaint.data.joints import JOINT_TYPES, SLOT_TYPE
    from jaxpaint.evaluation import mean_se
    from jaxpaint.metrics import pose as pose_metrics
    from jaxpaint.pose_evaluator import PoseEvaluator
    from tqdm import tqdm

    evaluator = PoseEvaluator.load(model_dir)
    source = loader.open_split(data_dir, dataset, "test")
    batches = loader.batch_dataset(source, batch_size, seed=0, shuffle=False, drop_remainder=False)
    pck, wnjd = [], []
    correct_per_type, labelled_per_type = np.zeros(len(JOINT_TYPES)), np.zeros(len(JOINT_TYPES))
    for i in tqdm(range(len(batches)), desc="pose scores", unit="batch"):
        batch = batches[i]
        xy, present = evaluator.predict(batch["image"])
        pck.append(np.asarray(pose_metrics.pck(xy, present, batch["joints_xy"], batch["joints_present"], alpha=0.2)))
        correct = np.asarray(pose_metrics.correct_joints(xy, present, batch["joints_xy"], batch["joints_present"]))
        np.add.at(correct_per_type, SLOT_TYPE, correct.sum(axis=0))
        np.add.at(labelled_per_type, SLOT_TYPE, np.asarray(batch["joints_present"]).sum(axis=0))
        wnjd.append(np.asarray(pose_metrics.wnjd(xy, present, batch["joints_xy"], batch["joints_present"],
                                                 batch["image"].shape[1:3])))
    result = {"split": "test", "images": int(sum(len(p) for p in pck))}
    for key, values in (("pck", np.concatenate(pck)), ("wnjd", np.concatenate(wnjd))):
        mean, se = mean_se(values)
        result[key], result[f"{key}_se"] = round(mean, 4), round(se, 4)
    result["pck_per_type"] = {name: round(float(c / n), 4) for name, c, n
                              in zip(JOINT_TYPES, correct_per_type, labelled_per_type) if n > 0}
    return result


def inpainter_scores(workdir: Path, method: str, data_dir: str, dataset: str, pose_model: str | None,
                     out: Path) -> dict:
    """The evaluation of `jaxpaint evaluate` on the whole test split, rounded for the card."""
    from jaxpaint.commands.evaluate import evaluate_method

    results = evaluate_method(method, str(workdir), data_dir, dataset, "test", pose_model, out=str(out), lpips=False)
    scores = {"split": "test", "images": results["num_images"]}
    scores.update({k: round(float(v), 4) for k, v in results["means"].items() if v is not None})
    scores.update({f"{k}_se": round(v, 4) for k, v in results["standard_errors"].items() if math.isfinite(v)})
    return scores


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
    kind = "pose evaluator" if config.method in releases.POSE_METHODS else "inpainter"
    source = releases.build_arguments(dataset)["source"]
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
            "data": {"dataset": dataset, **releases.build_arguments(dataset),
                     "licence": releases.LICENCES.get(source, "see the source's terms")},
            "scores": scores,
            "weights": {"file": ckpt.WEIGHTS_FILE, "bytes": (staging / ckpt.WEIGHTS_FILE).stat().st_size,
                        "sha256": sha256},
            "rebuild": rebuild or f"jaxpaint models rebuild {name} --manual-dir /path/to/{source} --workdir runs/rebuild_{name}",
        }
        write_bytes_atomic(staging / releases.CARD_FILE, (json.dumps(card, indent=2) + "\n").encode())
    return card


def rebuild(name: str, manual_dir: str | None, workdir: Path) -> dict:
    """The released model `name` again from its card: its dataset built into WORKDIR/data, its config
    trained into WORKDIR/run (resumable) on the same seed, and its release written to WORKDIR/NAME;
    says whether the weights are the shipped ones byte for byte."""
    from jaxpaint.data import builder
    from jaxpaint.engine.checkpoint import load_config_json
    from jaxpaint.train.loop import train_and_evaluate

    shipped = releases.folder(name)
    card, config = releases.read_card(shipped), load_config_json(shipped)
    data = {k: card["data"][k] for k in ("source", "size", "seed", "num_examples")}
    data_dir = workdir / "data"
    builder.build(data["source"], data_dir, manual_dir=manual_dir, size=data["size"], seed=data["seed"],
                  num_examples=data["num_examples"])
    with config.unlocked():
        config.data.data_dir = str(data_dir)
    train_and_evaluate(config, workdir / "run")  # takes the run's writer lock; resumes an interrupted rebuild
    pose_model = card["scores"].get("pose_model")
    rebuilt = write_release(workdir / "run", workdir / name, name, str(data_dir), card["config"],
                            str(releases.folder(pose_model)) if pose_model else None, card["rebuild"])
    same = rebuilt["weights"]["sha256"] == card["weights"]["sha256"]
    print(f"rebuilt {name} in {workdir / name}: weights sha256 {rebuilt['weights']['sha256']} "
          + ("equal to the shipped weights" if same else f"differs from the shipped {card['weights']['sha256']} "
             "(another machine type rounds differently; compare the scores)"))
    return rebuilt
