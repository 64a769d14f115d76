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
    return sorted(card.parent.name for card in RELEASE_DIR.glob(f"*/{CARD_FILE}"))


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


def build_arguments(dataset: str) -> dict:
    """`jaxpaint data build`'s arguments of a dataset name (builder.config_name's inverse)."""
    import re

    match = re.fullmatch(r"(?P<source>[a-z]+)_(?P<size>\d+)_seed(?P<seed>\d+)(?:_n(?P<num>\d+))?", dataset)
    if match is None:
        raise JaxpaintError(f"dataset {dataset!r} is not a name that `jaxpaint data build` gives")
    num = match["num"]
    return {"source": match["source"], "size": int(match["size"]), "seed": int(match["seed"]),
            "num_examples": int(num) if num else None}
