"""report.html is self-contained: every figure embedded, the table's numbers present, no external reference.
The tables show WNJD and PCK with their standard errors and each method's paired difference from the
diffusion fill, checked here against small per-image tables worked out by hand.
"""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from PIL import Image

from jaxpaint.evaluation import mean_se, paired_difference, table_row
from jaxpaint.report.html import write_report_html
from jaxpaint.report.tables import results_markdown


def test_report_embeds_every_figure_and_the_table(tmp_path):
    figures = []
    for i, colour in enumerate([(255, 0, 0), (0, 128, 255)]):
        path = tmp_path / f"fig{i}.png"
        Image.fromarray(np.full((4, 6, 3), colour, np.uint8)).save(path)
        figures.append((f"figure {i}", path))
    rows = [{"method": "diffusion", "dssim": 0.25834, "mse": 0.0191, "psnr": 21.03},
            {"method": "unet <quick>", "dssim": 0.2, "mse": None, "psnr": float("nan")}]
    out = write_report_html(tmp_path / "report.html", "main job", rows, "300 images", figures)
    page = out.read_text()
    assert "0.2583" in page and "21.03" in page and "unet &lt;quick&gt;" in page and "–" in page
    sources = re.findall(r'src="([^"]+)"', page)
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources)
    for (_, path), src in zip(figures, sources):  # the embedded bytes are the figure's bytes
        assert base64.b64decode(src.split(",", 1)[1]) == path.read_bytes()
    assert not re.search(r'(href|src)="(?!data:)', page)  # nothing outside the file


def test_a_metric_the_table_does_not_know_gets_its_own_column(tmp_path):
    rows = [{"method": "unet", "dssim": 0.25, "fid": 0.12345, "images": 12},
            {"method": "diffusion", "dssim": 0.3, "fid": 0.2}]
    markdown = results_markdown(rows)
    assert markdown.splitlines()[0] == "| method | DSSIM ↓ | fid | images |"
    assert "| unet | 0.2500 | 0.1235 | 12 |" in markdown and "| diffusion | 0.3000 | 0.2000 | – |" in markdown
    page = write_report_html(tmp_path / "r.html", "t", rows, "", []).read_text()
    assert "<th>fid</th>" in page and "<td>0.1235</td>" in page


# Per-image scores of four test images. unet - diffusion WNJD is (-0.1, 0.1, -0.1, -0.1): mean -0.05, deviations
# (-0.05, 0.15, -0.05, -0.05), sum of squares 0.03, std(ddof=1) sqrt(0.03 / 3) = 0.1, SE 0.1 / sqrt(4) = 0.05.
# unet's WNJD (0.1, 0.5, 0.2, 0.0): mean 0.2, sum of squares 0.14, SE sqrt(0.14 / 3) / 2. Its PCK has no value for
# the second image (no labelled joint: null in results.json): (0.5, 1.0, 0.0), SE sqrt(0.5 / 2) / sqrt(3).
DIFFUSION = {"wnjd": [0.2, 0.4, 0.3, 0.1], "pck": [0.5, 0.5, 0.5, 1.0], "dssim": [0.30, 0.20, 0.25, 0.25]}
UNET = {"wnjd": [0.1, 0.5, 0.2, 0.0], "pck": [0.5, None, 1.0, 0.0], "dssim": [0.28, 0.18, 0.23, 0.23]}


def test_standard_error_and_paired_difference_match_the_hand_computed_case():
    assert mean_se(UNET["wnjd"]) == pytest.approx((0.2, np.sqrt(0.14 / 3) / 2))
    assert mean_se(UNET["pck"]) == pytest.approx((0.5, np.sqrt(0.25) / np.sqrt(3)))  # the null image left out
    assert paired_difference(UNET["wnjd"], DIFFUSION["wnjd"]) == pytest.approx((-0.05, 0.05))
    # Every image 0.02 lower: the paired difference is exact (SE 0) where the SE of each mean is not.
    assert paired_difference(UNET["dssim"], DIFFUSION["dssim"]) == pytest.approx((-0.02, 0.0), abs=1e-12)
    # A capped row (the first two images) pairs with the reference's first two: (-0.1, 0.1), SE sqrt(0.02) / sqrt(2).
    assert paired_difference(UNET["wnjd"][:2], DIFFUSION["wnjd"]) == pytest.approx((0.0, 0.1))
    # An image whose score is missing in either row drops out of the pairs: PCK's are (0, 0.5, -1), mean -1/6,
    # sum of squared deviations 1/36 + 16/36 + 25/36 = 7/6, std sqrt(7/12).
    assert paired_difference(UNET["pck"], DIFFUSION["pck"]) == pytest.approx((-1 / 6, np.sqrt(7 / 12) / np.sqrt(3)))
    assert np.isnan(mean_se([0.3])[1]) and np.isnan(mean_se([None, None])[0])  # too few values: no figure

    row = table_row("unet", {"wnjd": 0.2, "pck": 0.5, "dssim": 0.23}, UNET, DIFFUSION)
    assert row["wnjd_se"] == pytest.approx(np.sqrt(0.14 / 3) / 2) and row["pck_se"] == pytest.approx(0.5 / np.sqrt(3))
    assert (row["wnjd_vs_diffusion"], row["wnjd_vs_diffusion_se"]) == pytest.approx((-0.05, 0.05))
    assert row["dssim_vs_diffusion"] == pytest.approx(-0.02) and "pck_vs_diffusion" not in row
    assert "wnjd_vs_diffusion" not in table_row("diffusion", {"wnjd": 0.25}, DIFFUSION)  # no reference given


def test_tables_show_the_standard_error_and_the_paired_column_only_with_a_diffusion_row(tmp_path):
    rows = [table_row("diffusion", {"wnjd": 0.25, "pck": 0.625}, DIFFUSION),
            table_row("unet", {"wnjd": 0.2, "pck": 0.5}, UNET, DIFFUSION)]
    markdown = results_markdown(rows, note="4 images.")
    head = "| method | ΔDSSIM vs diffusion ↓ | WNJD ↓ | ΔWNJD vs diffusion ↓ | PCK@0.2 ↑ |"
    assert markdown.splitlines()[0] == head
    assert "| diffusion | – | 0.2500 ± 0.0645 | – | 0.625 ± 0.125 |" in markdown  # SE of (0.2, 0.4, 0.3, 0.1)
    assert "| unet | -0.0200 ± 0.0000 | 0.2000 ± 0.1080 | -0.0500 ± 0.0500 | 0.500 ± 0.289 |" in markdown
    assert "4 images. ± is the standard error" in markdown and "paired difference from the diffusion fill" in markdown
    page = write_report_html(tmp_path / "r.html", "t", rows, "4 images.", []).read_text()
    assert "<td>0.2000 ± 0.1080</td><td>-0.0500 ± 0.0500</td>" in page and "paired difference" in page

    alone = results_markdown([table_row("unet", {"wnjd": 0.2, "pck": 0.5}, UNET)])  # `jaxpaint evaluate` of one method
    assert "Δ" not in alone.splitlines()[0] and "| unet | 0.2000 ± 0.1080 | 0.500 ± 0.289 |" in alone
    assert "No diffusion row in this table, so no paired differences" in alone
    published = results_markdown([{"method": "thesis", "wnjd": 0.1489}])  # no per-image scores: no ± and no note
    assert "| thesis | 0.1489 |" in published and "±" not in published


def test_suite_rows_from_results_json_older_files_included():
    """The suite's table from each entry's results.json: a file written before standard errors existed (no
    'standard_errors', a row of originals without SE) still gets them from its per-image scores; an entry
    scored on another dataset is not paired with diffusion."""
    from jaxpaint.commands.suite import suite_rows

    def results(per_image, dataset="lspet_128_seed0", n=4):
        means = {k: float(np.nanmean(np.asarray(v, float))) for k, v in per_image.items()}
        return {"method": "m", "dataset": dataset, "split": "test", "num_images": n, "means": means,
                "original": {"method": "original (unmasked)", "wnjd": 0.15}, "per_image": per_image,
                "original_per_image": {"wnjd": [0.1, 0.2, 0.1, 0.2]}}

    evaluated = {"unet": results(UNET), "diffusion": results(DIFFUSION),
                 "capped": results({k: v[:2] for k, v in UNET.items()}, n=2),
                 "semantic": results(UNET, dataset="lspet_64_seed0")}
    rows = {row["method"]: row for row in suite_rows(evaluated, "lspet_128_seed0")}
    assert list(rows) == ["original (unmasked)", "unet", "diffusion", "capped", "semantic"]
    assert rows["original (unmasked)"]["wnjd_se"] == pytest.approx(np.std([0.1, 0.2, 0.1, 0.2], ddof=1) / 2)
    assert rows["unet"]["wnjd_vs_diffusion"] == pytest.approx(-0.05) and rows["unet"]["images"] == 4
    assert rows["capped"]["wnjd_vs_diffusion_se"] == pytest.approx(0.1) and rows["capped"]["images"] == 2
    assert "wnjd_vs_diffusion" not in rows["semantic"] and rows["semantic"]["wnjd_se"] == rows["unet"]["wnjd_se"]
    assert "wnjd_vs_diffusion" not in rows["diffusion"] and "wnjd_vs_diffusion" not in rows["original (unmasked)"]
