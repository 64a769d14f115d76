"""Result tables: the thesis's Table 3 columns (DSSIM, MSE, PSNR, WNJD) plus LPIPS and PCK, as Markdown."""

from __future__ import annotations

import math

# Column key, header, format, and whether lower is better (for the arrow in the header).
COLUMNS = (
    ("dssim", "DSSIM", "{:.4f}", True),
    ("mse", "MSE", "{:.4f}", True),
    ("psnr", "PSNR", "{:.2f}", False),
    ("lpips_vgg", "LPIPS (VGG)", "{:.4f}", True),
    ("lpips_alex", "LPIPS (Alex)", "{:.4f}", True),
    ("wnjd", "WNJD", "{:.4f}", True),
    ("wnjd_vs_original", "WNJD vs orig. pose", "{:.4f}", True),
    ("pck", "PCK@0.2", "{:.3f}", False),
)


def _cell(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (str, int)):  # a label or a count
        return str(value)
    return fmt.format(value)


def present_columns(rows: list[dict]) -> list[tuple]:
    """The known columns any row has, in COLUMNS order, then any other numeric key the rows carry
    (a metric the evaluation added, e.g. LPIPS), so that a new metric shows without editing this table."""
    known = {key for key, *_ in COLUMNS}
    present = [c for c in COLUMNS if any(r.get(c[0]) is not None for r in rows)]
    extra = sorted({k for r in rows for k, v in r.items()
                    if k != "method" and k not in known and isinstance(v, (int, float)) and not isinstance(v, bool)})
    return present + [(k, k, "{:.4f}", None) for k in extra]


def header(name: str, lower_is_better) -> str:
    return name if lower_is_better is None else f"{name} {'↓' if lower_is_better else '↑'}"


def results_markdown(rows: list[dict], title: str | None = None, note: str | None = None) -> str:
    """A Markdown table with one row per method; `rows` are dicts with a "method" key and metric means."""
    present = present_columns(rows)
    head = "| method | " + " | ".join(header(h, low) for _, h, _, low in present) + " |"
    rule = "|---|" + "---|" * len(present)
    lines = [f"# {title}", ""] if title else []
    lines += [head, rule]
    for row in rows:
        cells = [_cell(row.get(key), fmt) for key, _, fmt, _ in present]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"
