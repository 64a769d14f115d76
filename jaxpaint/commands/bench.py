"""`jaxpaint bench NAME`: runs a benchmark from jaxpaint/benchmarks and writes its figures as JSON."""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import pkgutil
from pathlib import Path

import jaxpaint.benchmarks
from jaxpaint.errors import JaxpaintError


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(jaxpaint.benchmarks.__path__))


def summary(name: str) -> str:
    """The first sentence of a benchmark's docstring, read from its source so that listing imports nothing."""
    path = Path(jaxpaint.benchmarks.__path__[0]) / f"{name}.py"
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return " ".join(doc.split("\n\n")[0].split())


def register(subparsers) -> None:
    listing = "\n".join(f"  {name:18s}{summary(name)}" for name in available())
    parser = subparsers.add_parser(
        "bench", help="run a benchmark (jaxpaint bench --help lists them)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"benchmarks:\n{listing}\n\nA benchmark's own options: jaxpaint bench NAME -- --help")
    parser.add_argument("name", help="benchmark name")
    parser.add_argument("--out", help="write the figures to this JSON file")
    # Everything the dispatcher does not know goes to the benchmark's own parser.
    parser.set_defaults(func=run, accepts_overrides=True)


def run(args) -> int:
    if args.name not in available():
        raise JaxpaintError(f"unknown benchmark {args.name!r}; available: {', '.join(available())}")
    if args.out and Path(args.out).is_dir():
        raise JaxpaintError(f"--out {args.out} is a folder; give the JSON file to write")
    module = importlib.import_module(f"jaxpaint.benchmarks.{args.name}")
    sub = argparse.ArgumentParser(prog=f"jaxpaint bench {args.name}")
    module.add_arguments(sub)
    figures = module.run(sub.parse_args([a for a in args.overrides if a != "--"]))
    if args.out:
        from jaxpaint.data.images import write_bytes_atomic

        write_bytes_atomic(args.out, (json.dumps(figures, indent=2) + "\n").encode())
        print(f"figures written to {args.out}")
    return 0
