"""One writer per folder: an advisory lock (fcntl.flock) on a lock file inside it.

The kernel drops a flock when its holder exits, however it exits (SIGKILL included),
so a lock is never stale. The holder writes who it is (pid, host, command, start
time, run id) into the lock file, so that a refused or waiting process can name it.

Writers of a run folder (train, tune, run) take `writer_lock(folder, process_index)`:
the file is `.writer-<i>.lock`, so the P processes of one jax.distributed job share
a folder while a second single-process run collides with process 0. Readers
(inpaint, evaluate, score, --warm-start) take no lock. Dataset builds wait for each
other with `wait_for_lock`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

from jaxpaint.errors import JaxpaintError


class FolderBusy(JaxpaintError):
    """Another process holds the folder's writer lock."""


def writer_lock_path(folder: str | os.PathLike, process_index: int = 0) -> Path:
    return Path(folder) / f".writer-{int(process_index)}.lock"


def holder_record() -> dict:
    """Who this process is: written into a lock file it holds, and into a run's writers.jsonl."""
    started = time.time()
    return {
        "run_id": f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(started))}-{uuid.uuid4().hex[:8]}",
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command_line(sys.argv),
        "started": round(started, 3),
    }


def command_line(argv: list[str]) -> str:
    """The command as the user typed it: `python -m jaxpaint.cli ...` reads as `jaxpaint ...`."""
    if not argv or not argv[0]:
        return "python"
    program = "jaxpaint" if Path(argv[0]).parts[-2:] == ("jaxpaint", "cli.py") else Path(argv[0]).name
    return " ".join([program, *argv[1:]])


def describe_holder(record: dict | None) -> str:
    """"process 123 on host h (started 2024-01-01 10:00:00 UTC: jaxpaint train ...)", or a fallback when the
    holder has not written its record yet (it is between its flock and its write)."""
    if not record or "pid" not in record:
        return "another process (it has not recorded itself yet)"
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(record.get("started", 0)))
    return f"process {record['pid']} on host {record.get('host', '?')} (started {when}: {record.get('command', '?')})"


def read_holder(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text() or "null")
    except (OSError, ValueError):
        return None


def read_holder_once_recorded(path: Path, patience_s: float = 2.0) -> dict | None:
    """The holder's record, waiting up to `patience_s` for a holder caught between its flock and its write
    (a busy CPU can pause it there), so that a refusal names it."""
    deadline = time.monotonic() + patience_s
    while (record := read_holder(path)) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return record


def _open_lock_file(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as err:
        raise JaxpaintError(f"cannot create the lock file {path}: {err}") from None


def _record_holder(fd: int, record: dict) -> None:
    # Rewritten in place, never replaced: the lock lives on this inode.
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(record, sort_keys=True) + "\n").encode(), 0)


def _release(fd: int) -> None:
    # The record is cleared first: a reader never sees a finished process named as the holder.
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


@contextlib.contextmanager
def _holding(path: Path, record: dict, when_busy) -> Iterator[dict]:
    """Holds the lock file `path` for the block with `record` written in it. When another process holds it,
    `when_busy(fd)` either raises or takes the lock by waiting."""
    fd = _open_lock_file(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            when_busy(fd)
    except BaseException:
        os.close(fd)
        raise
    try:
        _record_holder(fd, record)
        yield record
    finally:
        _release(fd)


def exclusive_lock(path: str | os.PathLike, what: str, record: dict | None = None):
    """Holds the lock file `path` for the block, or raises FolderBusy naming `what` and the holder at once.
    Yields the record written into the file (a fresh `holder_record()` unless given)."""
    path = Path(path)

    def refuse(fd: int):
        holder = describe_holder(read_holder_once_recorded(path))
        raise FolderBusy(f"{what} is in use by {holder}; nothing was changed. Wait for it to finish or stop it "
                         f"(lock file {path})") from None

    return _holding(path, record or holder_record(), refuse)


def writer_lock(folder: str | os.PathLike, process_index: int = 0, record: dict | None = None):
    """The run folder `folder` for this process alone (see the module's docstring)."""
    return exclusive_lock(writer_lock_path(folder, process_index), f"run folder {folder}", record)


def wait_for_lock(path: str | os.PathLike, what: str):
    """Holds the lock file `path` for the block, waiting (one line printed, naming the holder) while another
    process holds it."""
    path = Path(path)

    def wait(fd: int):
        holder = describe_holder(read_holder_once_recorded(path))
        print(f"{what}: waiting for {holder}", file=sys.stderr, flush=True)
        fcntl.flock(fd, fcntl.LOCK_EX)

    return _holding(path, holder_record(), wait)
