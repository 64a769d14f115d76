"""What `--help` shows: the command list once, and every benchmark with what it measures."""

from __future__ import annotations

import pkgutil

import pytest

import jaxpaint.benchmarks
from jaxpaint.cli import COMMANDS, main


def help_text(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_lists_each_command_once(capsys):
    text = help_text([], capsys)
    for name, summary in COMMANDS.items():
        assert text.count(summary) == 1, name


def test_bench_help_lists_every_benchmark_with_its_first_sentence(capsys):
    text = help_text(["bench"], capsys)
    names = [m.name for m in pkgutil.iter_modules(jaxpaint.benchmarks.__path__)]
    assert len(names) >= 6
    for name in names:
        line = next(line for line in text.splitlines() if line.split()[:1] == [name])
        assert len(line.split()) > 4, line  # the name and a sentence
