"""Benchmarks: each module defines `add_arguments(parser)` and `run(args) -> dict`.

A benchmark prints its figure, the machine (`machine_info()`) and what it was
compared with in the same run; `jaxpaint bench NAME` runs one and writes JSON.
"""

from __future__ import annotations

import os
import platform


def machine_info() -> dict:
    """The machine a figure was measured on."""
    import jax

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    devices = jax.devices()
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "jax_backend": jax.default_backend(),
        "devices": f"{len(devices)} x {devices[0].device_kind}",
        "jax": jax.__version__,
    }


def format_machine(info: dict) -> str:
    return f"{info['devices']} ({info['jax_backend']}), host {info['cpu']} x{info['cpu_count']}, jax {info['jax']}"
