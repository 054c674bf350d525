"""Markdown building blocks shared by the report's sections: numbers with intervals, tables,
flags. Formatting only; no audit logic."""

from __future__ import annotations

import math
from typing import Any

DASH = "—"


def number(value: float | None, digits: int = 3, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return DASH
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def cell(row: Any, digits: int = 3, *, ci: bool = True, signed: bool = False) -> str:
    if row is None:
        return DASH
    text = number(row.value, digits, signed)
    if ci and text != DASH and math.isfinite(row.ci_low) and math.isfinite(row.ci_high):
        text += f" [{number(row.ci_low, digits)}, {number(row.ci_high, digits)}]"
    return text


def escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def table_lines(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(escape(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return out + [""]


def flag_names(values: Any) -> list[str]:
    """Distinct flags of some rows; a row's flag may join several with ";"."""
    return sorted({f for value in values for f in str(value).split(";") if f})
