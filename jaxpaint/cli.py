"""The `jaxpaint` command: one entry point, one module per subcommand.

Each module in jaxpaint/commands/ defines `register(subparsers)`, which adds its
parser and sets `func` (a callable taking the parsed args). Modules import heavy
libraries (jax, tfds) inside their functions so that `jaxpaint --help` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from jaxpaint.errors import JaxpaintError

COMMANDS = ("data", "train", "inpaint", "evaluate", "score", "run", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxpaint", description="Semantic inpainting of images of people.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"jaxpaint.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args, extra = build_parser().parse_known_args(argv)
    # Only commands that take `--config.key=value` overrides accept extra arguments.
    if extra and not getattr(args, "accepts_overrides", False):
        print(f"jaxpaint: error: unrecognized arguments: {' '.join(extra)}", file=sys.stderr)
        return 2
    args.overrides = extra
    try:
        result = args.func(args)
    except JaxpaintError as err:
        print(f"jaxpaint: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("jaxpaint: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
