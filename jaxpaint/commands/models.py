"""`jaxpaint models`: the released models (list, release a trained run, rebuild one from its card)."""

from __future__ import annotations

from pathlib import Path

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
    from jaxpaint import releases

    if args.action is None:
        print(releases.listing())
        print(f"\nEach folder in {releases.RELEASE_DIR} holds card.json (data, licence, scores, rebuild command).")
        return 0
    if args.action == "rebuild":
        releases.folder(args.name)
        releases.rebuild(args.name, args.manual_dir, Path(args.workdir))
        return 0
    from jaxpaint.data.images import check_output_path

    out = Path(args.out) if args.out else releases.RELEASE_DIR / args.name
    if not Path(args.workdir).is_dir():
        raise JaxpaintError(f"--workdir {args.workdir} is not the folder of a training run")
    check_output_path(out, "--out", {"--workdir": args.workdir, "--data-dir": args.data_dir})
    pose_model = releases.resolve(args.pose_model, "--pose-model")
    card = releases.write_release(Path(args.workdir), out, args.name, args.data_dir, args.config, pose_model)
    print(f"released {args.name} into {out}: {card['weights']['bytes'] / 1e6:.2f} MB, sha256 {card['weights']['sha256']}")
    return 0
