"""metrics.jsonl: one JSON object per logged step, {step, split, metrics, images_per_sec, time, run}, and
writers.jsonl: one line per training session of the workdir (its run id, pid, host, start time and step).

`run` in a metrics record is the run id of the session that wrote it; the checkpoints of steps after a
session's start step and up to the next session's are that session's."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax

from jaxpaint.data.images import write_bytes_atomic

METRICS_FILE = "metrics.jsonl"
CURVES_FILE = "curves.png"
WRITERS_FILE = "writers.jsonl"
PLOT_INTERVAL_S = 60.0  # the curves of a run that validates often are redrawn at most this often


def read_metrics(path: Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut short by a killed run; everything after it is stale as well
    return records


def record_writer(workdir: Path, writer: dict, start_step: int) -> None:
    """Appends this training session (a lock.holder_record) and the step it starts from to writers.jsonl."""
    if jax.process_index() == 0:
        with (Path(workdir) / WRITERS_FILE).open("a") as f:
            f.write(json.dumps({**writer, "start_step": int(start_step)}, sort_keys=True) + "\n")


class MetricsLog:
    """Appends records; on resume, drops those past the restored step so no step appears twice."""

    def __init__(self, workdir: Path, truncate_after: int, run_id: str | None = None):
        self.workdir = Path(workdir)
        self.path = self.workdir / METRICS_FILE
        self.run_id = run_id
        self.last_plot = time.monotonic()  # the first interim plot comes PLOT_INTERVAL_S into the session
        self.is_writer = jax.process_index() == 0
        if self.is_writer:
            kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= truncate_after]
            write_bytes_atomic(self.path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept).encode())

    def write(self, step: int, split: str, metrics: dict[str, float], images_per_sec: float | None = None) -> None:
        if not self.is_writer:
            return
        record = {"step": int(step), "split": split, "metrics": metrics, "time": time.time()}
        if self.run_id is not None:
            record["run"] = self.run_id
        if images_per_sec is not None:
            record["images_per_sec"] = images_per_sec
        with self.path.open("a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")

    def plot(self, final: bool = True) -> None:
        """Redraws curves.png: always when `final` (a run's last step, or a stop), otherwise at most once
        every PLOT_INTERVAL_S seconds, since a plot costs more than a tiny run's validation."""
        if not self.is_writer:
            return
        now = time.monotonic()
        if not final and now - self.last_plot < PLOT_INTERVAL_S:
            return
        from jaxpaint.report.curves import plot_curves

        plot_curves(read_metrics(self.path), self.workdir / CURVES_FILE)
        self.last_plot = time.monotonic()
