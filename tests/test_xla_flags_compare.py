"""experiments/xla_flags_compare.py: the table of medians it prints from the bench runs' JSON."""

from __future__ import annotations

from tests.experiment_scripts import load_experiment

compare = load_experiment("xla_flags_compare")


def run(images_per_s, ratio):
    return {"config": "unet:lspet", "images_per_s": images_per_s, "speedup_vs_torch": ratio}


def test_rows_give_the_medians_and_the_change_in_the_ratio():
    flag = "--xla_x=false"
    results = {("unet", ""): [run(10.0, 0.5), run(14.0, 0.7), run(12.0, 0.6)],
               ("unet", flag): [run(15.0, 0.9), run(13.0, 0.66), run(11.0, 0.5)]}
    rows = compare.summary_rows(results, flag)
    # Medians: 12.0 and 13.0 images/s; ratios 0.6 and 0.66, a change of +10 %.
    assert rows[2] == "| unet | unet:lspet | 12.0 | 13.0 | 0.60 | 0.66 | +10 % |"
    assert len(rows) == 3
