"""Writing the evaluation tables as CSV, Markdown, LaTeX or JSON, one file per table."""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from pathlib import Path

from curation.evaluation.tables import Table

FORMATS = ("csv", "md", "json", "tex")


def render(table: Table, fmt: str) -> str:
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(table.columns)
        writer.writerows(table.rows)
        return buffer.getvalue()
    if fmt == "md":
        lines = [
            f"**{table.caption}**",
            "",
            "| " + " | ".join(table.columns) + " |",
            "|" + "---|" * len(table.columns),
        ]
        lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in table.rows]
        if table.empty:
            lines += ["", table.empty]
        return "\n".join(lines) + "\n"
    if fmt == "tex":
        spec = "l" * len(table.columns)
        lines = [
            r"\begin{table}[t]",
            r"\centering",
            rf"\begin{{tabular}}{{{spec}}}",
            r"\hline",
            " & ".join(_tex(c) for c in table.columns) + r" \\",
            r"\hline",
        ]
        lines += [" & ".join(_tex(cell) for cell in row) + r" \\" for row in table.rows]
        lines += [
            r"\hline",
            r"\end{tabular}",
            rf"\caption{{{_tex(table.caption)}}}",
            rf"\label{{tab:{table.key}}}",
            r"\end{table}",
        ]
        return "\n".join(lines) + "\n"
    if fmt == "json":
        return json.dumps(table_record(table), indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def table_record(table: Table) -> dict:
    """The table as plain data (non-finite numbers as null): the JSON export and the API."""
    return {
        "key": table.key,
        "caption": table.caption,
        "columns": table.columns,
        "rows": table.rows,
        "raw": _finite(table.raw),
        "empty": table.empty,
    }


def write_tables(tables: list[Table], fmt: str, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for table in tables:
        path = out / f"{table.key}.{fmt}"
        path.write_text(render(table, fmt), encoding="utf-8")
        written.append(path)
    return written


def zip_tables(tables: list[Table], fmt: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in tables:
            archive.writestr(f"{table.key}.{fmt}", render(table, fmt))
    return buffer.getvalue()


def _md(cell: str) -> str:
    return str(cell).replace("|", r"\|")


_TEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\^{}",
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
    "α": r"$\alpha$",
    "—": "--",
    "≥": r"$\geq$",
}


def _tex(cell: str) -> str:
    return "".join(_TEX.get(char, char) for char in str(cell))


def _finite(value):
    """JSON has no NaN: missing numbers become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(inner) for inner in value]
    return value
