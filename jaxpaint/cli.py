"""The `jaxpaint` command: one entry point, one module per subcommand.

Each module in jaxpaint/commands/ defines `register(subparsers)`, which adds its
parser and sets `func` (a callable taking the parsed args). Only the chosen
command's module is imported, and modules import heavy libraries (jax, tfds)
inside their functions, so that start-up stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from jaxpaint.errors import JaxpaintError

COMMANDS = {
    "data": "build, inspect and export the dataset",
    "train": "train a method or the pose evaluator from a config",
    "inpaint": "inpaint images with a trained method",
    "evaluate": "score a method on a dataset split",
    "score": "the competition's scoring program",
    "tune": "Algorithm 1: tune a method's parameters one at a time",
    "run": "the main job: dataset, training, evaluation and report",
    "bench": "benchmarks",
    "models": "the released trained models: list, release, rebuild",
}


def build_parser(command: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxpaint",
        description="Semantic inpainting of images of people.",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    for name in COMMANDS:
        if name == command:
            importlib.import_module(f"jaxpaint.commands.{name}").register(subparsers)
        else:
            subparsers.add_parser(name, help=COMMANDS[name], add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs one command. A JaxpaintError (bad input, a failed precondition) is one line on stderr and exit
    status 2; `--debug` (anywhere on the line) shows its traceback instead."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args, extra = parser.parse_known_args(argv)
    # Only commands that take `--config.key=value` overrides accept extra arguments.
    if extra and not getattr(args, "accepts_overrides", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.overrides = extra
    args.debug = debug
    try:
        result = args.func(args)
    except JaxpaintError as err:
        if debug:
            raise
        print(f"jaxpaint: error: {one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("jaxpaint: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


def one_line(err: Exception) -> str:
    return " ".join(str(err).split()) or type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
