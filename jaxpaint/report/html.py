"""report.html: one self-contained page (images embedded as data URIs) with a run's table, curves and grids.

It opens in any browser without a server and without the files next to it.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

from jaxpaint.report.tables import full_note, header, present_columns, row_cells


def table_html(rows: list[dict]) -> str:
    """The results table (the same columns, formats and ± standard errors as results.md)."""
    present = present_columns(rows)
    head = "".join(f"<th>{html.escape(header(h, low))}</th>" for _, h, _, low in present)
    body = []
    for row in rows:
        cells = "".join(f"<td>{cell}</td>" for cell in row_cells(row, present))
        body.append(f"<tr><th>{html.escape(str(row['method']))}</th>{cells}</tr>")
    return f"<table><tr><th>method</th>{head}</tr>{''.join(body)}</table>"


def image_html(path: Path, caption: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
tr th:first-child{text-align:left}figure{margin:1em 0}img{max-width:100%;image-rendering:pixelated}
figcaption{color:#555;font-size:90%}"""


def write_report_html(out_path, title: str, rows: list[dict], note: str, figures: list[tuple[str, Path]],
                      tables: list[tuple[str, list[dict], str]] = ()) -> Path:
    """Writes the page: title, table, note, then each further (heading, rows, note) table, then each
    (caption, PNG path) figure embedded."""
    from jaxpaint.data.images import write_bytes_atomic

    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>", table_html(rows),
             f"<p>{html.escape(full_note(rows, note))}</p>"]
    for heading, extra_rows, extra_note in tables:
        parts += [f"<h2>{html.escape(heading)}</h2>", table_html(extra_rows),
                  f"<p>{html.escape(full_note(extra_rows, extra_note))}</p>"]
    parts.append("<h2>Figures</h2>")
    parts += [image_html(path, caption) for caption, path in figures]
    parts.append("</body></html>\n")
    out_path = Path(out_path)
    write_bytes_atomic(out_path, "".join(parts).encode())
    return out_path
