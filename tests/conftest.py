"""Shared test settings and fixtures.

Real data and weights live outside the project (in ../shared on the development
machines); tests that need them skip with a stated reason when they are absent.
Set JAXPAINT_LSPET_DIR / JAXPAINT_VGG19_DIR to point elsewhere.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

_SHARED = Path(__file__).resolve().parents[2] / "shared"
LSPET_DIR = Path(os.environ.get("JAXPAINT_LSPET_DIR", _SHARED / "data" / "lspet"))
VGG19_DIR = Path(os.environ.get("JAXPAINT_VGG19_DIR", _SHARED / "weights" / "vgg19_imagenet_conv1_1-conv3_4"))

needs_lspet = pytest.mark.skipif(
    not (LSPET_DIR / "joints.mat").is_file(),
    reason=f"real LSPET data not found at {LSPET_DIR} (set JAXPAINT_LSPET_DIR)",
)
needs_vgg19 = pytest.mark.skipif(
    not VGG19_DIR.is_dir(),
    reason=f"real VGG-19 weights not found at {VGG19_DIR} (set JAXPAINT_VGG19_DIR)",
)


# The test session's XLA compilation cache: many tests compile the same tiny programs (a step of the same
# tiny config, built afresh in each test), and the CLI tests' subprocesses compile them again. A cache
# keyed by the compiled program turns each repeat into a file read. It lives in a temporary folder made
# for the session and removed after it (never the user's home), shared by the xdist workers and every
# subprocess through the environment. A cache folder the user set already is left as it is.
# Eviction stays off: with it, jax rescans every entry at each write (quadratic in the thousands of
# entries a session makes). Without it, a read racing the same entry's first write is a miss (jax warns
# and compiles), never a wrong program.
MIN_COMPILE_SECS = "0"  # the tiny programs compile in well under jax's default 1 s each


# XLA:CPU's LLVM back end at optimisation level 1, not its default 3: the tests' programs are tiny and
# compiled once or twice each, so compiling dominates running (the tiny U-Net's init compiles in 10.0 s
# at level 3 and 1.7 s at level 1, the tiny hourglass's in 7.9 s and 4.2 s; level 0 runs the VGG-based
# tests slower than it saves). The HLO passes are the same, and every check compares with a reference or
# with a second run under the same flags. A level the user set is kept.
OPT_LEVEL_FLAG = "--xla_backend_optimization_level"


def with_test_xla_flags(xla_flags: str) -> str:
    if OPT_LEVEL_FLAG in xla_flags:
        return xla_flags
    return f"{xla_flags} {OPT_LEVEL_FLAG}=1".strip()


def pytest_configure(config):
    if hasattr(config, "workerinput"):
        return  # an xdist worker inherits the controller's environment
    os.environ["XLA_FLAGS"] = with_test_xla_flags(os.environ.get("XLA_FLAGS", ""))
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return  # a user's own cache is kept
    cache_dir = tempfile.mkdtemp(prefix="jaxpaint-test-xla-cache-")
    config._jaxpaint_cache_dir = cache_dir
    os.environ.update(JAX_COMPILATION_CACHE_DIR=cache_dir, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=MIN_COMPILE_SECS)
    if "jax" in sys.modules:  # a plugin imported jax before this hook: set what its import already read
        import jax

        jax.config.update("jax_compilation_cache_dir", cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", float(MIN_COMPILE_SECS))


def pytest_unconfigure(config):
    cache_dir = getattr(config, "_jaxpaint_cache_dir", None)
    if cache_dir:
        shutil.rmtree(cache_dir, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    """Modules marked `slow` run first (stable order otherwise): xdist hands whole files to the workers in
    collection order, and long files started last leave one worker running while the other idles."""
    slow = {item.module.__name__ for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.module.__name__ not in slow)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A built synthetic dataset: 120 source images at 64 px, seed 0. Returns (data_dir, config_name).

    Read it with `jaxpaint.data.loader.open_split(data_dir, config_name, split)`.
    """
    from jaxpaint.data import builder

    data_dir = tmp_path_factory.mktemp("tiny_dataset")
    builder.build("synthetic", data_dir, size=64, seed=0, num_examples=120)
    return str(data_dir), builder.config_name("synthetic", 64, 0, 120)
