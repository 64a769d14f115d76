"""Result tables: the thesis's Table 3 columns (DSSIM, MSE, PSNR, WNJD) plus LPIPS and PCK, as Markdown.

A row's `KEY_se` (standard error of the mean over images) is shown in KEY's cell as "mean ± SE"; the
`KEY_vs_diffusion` columns (paired differences from the diffusion fill, jaxpaint.evaluation.table_row)
show only when some row has them, that is when the table has a diffusion row.
"""

from __future__ import annotations

import math

REFERENCE = "diffusion"  # the label of the reference fill's row: paired differences are taken from it

# Column key, header, format, and whether lower is better (for the arrow in the header).
COLUMNS = (
    ("dssim", "DSSIM", "{:.4f}", True),
    (f"dssim_vs_{REFERENCE}", f"ΔDSSIM vs {REFERENCE}", "{:.4f}", True),
    ("mse", "MSE", "{:.4f}", True),
    ("psnr", "PSNR", "{:.2f}", False),
    ("lpips_vgg", "LPIPS (VGG)", "{:.4f}", True),
    ("lpips_alex", "LPIPS (Alex)", "{:.4f}", True),
    ("wnjd", "WNJD", "{:.4f}", True),
    (f"wnjd_vs_{REFERENCE}", f"ΔWNJD vs {REFERENCE}", "{:.4f}", True),
    ("wnjd_vs_original", "WNJD vs orig. pose", "{:.4f}", True),
    ("pck", "PCK@0.2", "{:.3f}", False),
)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _cell(value, fmt: str, se=None) -> str:
    if _missing(value):
        return "–"
    if isinstance(value, (str, int)):  # a label or a count
        return str(value)
    return _number(value, fmt) + ("" if _missing(se) else f" ± {_number(se, fmt)}")


def _number(value, fmt: str) -> str:
    text = fmt.format(value)
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.0000"


def row_cells(row: dict, present: list[tuple]) -> list[str]:
    """The row's cells for the `present` columns, each mean with its standard error when the row has one."""
    return [_cell(row.get(key), fmt, row.get(f"{key}_se")) for key, _, fmt, _ in present]


def present_columns(rows: list[dict]) -> list[tuple]:
    """The known columns any row has, in COLUMNS order, then any other numeric key the rows carry
    (a metric the evaluation added, e.g. LPIPS), so that a new metric shows without editing this table.
    A `KEY_se` is not a column of its own: it goes into KEY's cells."""
    known = {key for key, *_ in COLUMNS}
    present = [c for c in COLUMNS if any(r.get(c[0]) is not None for r in rows)]
    numbers = {k for r in rows for k, v in r.items()
               if k != "method" and isinstance(v, (int, float)) and not isinstance(v, bool)}
    extra = sorted(k for k in numbers - known if not (k.endswith("_se") and k[:-3] in known | numbers))
    return present + [(k, k, "{:.4f}", None) for k in extra]


def header(name: str, lower_is_better) -> str:
    return name if lower_is_better is None else f"{name} {'↓' if lower_is_better else '↑'}"


def table_note(rows: list[dict]) -> str:
    """What the ± and the paired columns mean, for the tables that have them (empty for one with neither)."""
    keys = {k for r in rows for k, v in r.items() if not _missing(v)}
    if not any(k.endswith("_se") for k in keys):
        return ""
    note = "± is the standard error of the mean over images (std/√n)."
    if any(k.endswith(f"_vs_{REFERENCE}") for k in keys):
        return note + (f" Δ … vs {REFERENCE}: the paired difference from the {REFERENCE} fill on the same images "
                       f"(mean over images of the row's score minus {REFERENCE}'s, ± its standard error); "
                       f"negative is lower than {REFERENCE}.")
    if any(r.get("method") == REFERENCE for r in rows):
        return note
    return note + f" No {REFERENCE} row in this table, so no paired differences from the {REFERENCE} fill."


def full_note(rows: list[dict], note: str | None) -> str:
    return " ".join(part for part in (note, table_note(rows)) if part)


def results_markdown(rows: list[dict], title: str | None = None, note: str | None = None) -> str:
    """A Markdown table with one row per method; `rows` are dicts with a "method" key and metric means."""
    present = present_columns(rows)
    head = "| method | " + " | ".join(header(h, low) for _, h, _, low in present) + " |"
    rule = "|---|" + "---|" * len(present)
    lines = [f"# {title}", ""] if title else []
    lines += [head, rule]
    for row in rows:
        lines.append(f"| {row['method']} | " + " | ".join(row_cells(row, present)) + " |")
    note = full_note(rows, note)
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"
