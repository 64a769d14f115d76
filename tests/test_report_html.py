"""report.html is self-contained: every figure embedded, the table's numbers present, no external reference."""

from __future__ import annotations

import base64
import re

import numpy as np
from PIL import Image

from jaxpaint.report.html import write_report_html


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
    from jaxpaint.report.tables import results_markdown

    rows = [{"method": "unet", "dssim": 0.25, "fid": 0.12345, "images": 12},
            {"method": "diffusion", "dssim": 0.3, "fid": 0.2}]
    markdown = results_markdown(rows)
    assert markdown.splitlines()[0] == "| method | DSSIM ↓ | fid | images |"
    assert "| unet | 0.2500 | 0.1235 | 12 |" in markdown and "| diffusion | 0.3000 | 0.2000 | – |" in markdown
    page = write_report_html(tmp_path / "r.html", "t", rows, "", []).read_text()
    assert "<th>fid</th>" in page and "<td>0.1235</td>" in page
