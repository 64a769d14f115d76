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


# XLA:CPU's LLVM back end below its default level 3: the tests' programs are tiny and compiled once or
# twice each, so compiling dominates running. Level 0 compiles about a third faster than level 1 (the tiny
# U-Net's GAN step in 5.3 s against 8.1 s; whole modules 10-50 % faster), but XLA:CPU at level 0 runs
# convolutions inside a loop tens of times slower (a scan of 12 VGG-16 gradient steps: 30 s against
# 0.4 s), and patch synthesis's L-BFGS is such a loop (its module took 322 s against 51 s). So the first
# xdist worker (and a run without xdist) compiles at level 1 and is the only one to run the RUN_BOUND
# modules, then short files from the back of the queue; the other workers compile at level 0 and take
# the long compile-bound files from the front (see LevelScheduling). The HLO passes are the
# same at both levels; every check compares with a reference or with a second run in the same module, on
# the same worker. A worker's CLI subprocesses inherit its level: several tests compare a subprocess's run
# with an in-process one bit for bit, and code compiled at two levels may round differently. A level the
# user set is kept everywhere.
OPT_LEVEL_FLAG = "--xla_backend_optimization_level"
RUN_BOUND = ("tests/test_patch_synthesis.py", "tests/test_content_network.py", "tests/test_main_job.py")
LEVEL_CHOSEN_HERE = "JAXPAINT_TEST_XLA_LEVEL_CHOSEN"  # set by the controller when the user set no level


def with_test_xla_flags(xla_flags: str, level: int) -> str:
    kept = " ".join(flag for flag in xla_flags.split() if not flag.startswith(OPT_LEVEL_FLAG))
    return f"{kept} {OPT_LEVEL_FLAG}={level}".strip()


# XLA:CPU's older elemental emitters for fusions instead of its MLIR fusion emitters: they compile the tests'
# programs about twice as fast (the tiny U-Net's GAN step in 1.2 s against 2.4 s at level 0, 2.8 s against
# 4.1 s at level 1), and tiny programs are compile-bound. A value the user set is kept.
FUSION_EMITTERS_FLAG = "--xla_cpu_use_fusion_emitters"


def with_elemental_fusions(xla_flags: str) -> str:
    if FUSION_EMITTERS_FLAG in xla_flags:
        return xla_flags
    return f"{xla_flags} {FUSION_EMITTERS_FLAG}=false".strip()


def runs_run_bound_modules(worker_id: str) -> bool:
    return worker_id == "gw0"


def pytest_configure(config):
    if hasattr(config, "workerinput"):  # an xdist worker inherits the controller's environment
        if os.environ.get(LEVEL_CHOSEN_HERE):
            level = 1 if runs_run_bound_modules(config.workerinput["workerid"]) else 0
            os.environ["XLA_FLAGS"] = with_test_xla_flags(os.environ.get("XLA_FLAGS", ""), level)
        return
    os.environ["XLA_FLAGS"] = with_elemental_fusions(os.environ.get("XLA_FLAGS", ""))
    if OPT_LEVEL_FLAG not in os.environ.get("XLA_FLAGS", ""):
        os.environ[LEVEL_CHOSEN_HERE] = "1"
        os.environ["XLA_FLAGS"] = with_test_xla_flags(os.environ.get("XLA_FLAGS", ""), 1)
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return  # a user's own cache is kept
    cache_dir = tempfile.mkdtemp(prefix="jaxpaint-test-xla-cache-")
    config._jaxpaint_cache_dir = cache_dir
    os.environ.update(JAX_COMPILATION_CACHE_DIR=cache_dir, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=MIN_COMPILE_SECS)
    if "jax" in sys.modules:  # a plugin imported jax before this hook: set what its import already read
        import jax

        jax.config.update("jax_compilation_cache_dir", cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", float(MIN_COMPILE_SECS))


@pytest.hookimpl(optionalhook=True)  # an xdist hook: unknown when pytest runs without xdist
def pytest_xdist_make_scheduler(config, log):
    """Whole files per worker (as --dist loadfile), with the RUN_BOUND files kept for the worker that
    compiles at level 1 (pytest_configure)."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    config.option.loadscopereorder = False  # keep the slow-first order (xdist would put the most tests first)

    class LevelScheduling(LoadFileScheduling):
        def _assign_work_unit(self, node):
            units = list(self.workqueue)
            if runs_run_bound_modules(node.gateway.id):
                # Its own files first, then from the back of the queue: the short files, where compiling at
                # level 1 costs least, while the others take the long compile-bound files from the front.
                own = [u for u in units if u in RUN_BOUND]
                scope = own[0] if own else units[-1]
            else:
                eligible = [u for u in units if u not in RUN_BOUND]
                if not eligible:
                    return  # only level-1 files are left: this worker is done
                scope = eligible[0]
            work_unit = self.workqueue.pop(scope)
            self.assigned_work.setdefault(node, {})[scope] = work_unit
            collection = self.registered_collections[node]
            node.send_runtest_some([collection.index(nodeid) for nodeid, done in work_unit.items() if not done])

    return LevelScheduling(config, log)


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
