"""Render models as terminal tables, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: wide and full-width characters count two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int, right: bool) -> str:
    padding = " " * max(width - display_width(text), 0)
    return padding + text if right else text + padding


def _truncate(text: str, width: int) -> str:
    if display_width(text) <= width:
        return text
    result = ""
    for char in text:
        if display_width(result + char) > width - 1:
            break
        result += char
    return result + "…"


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    numeric: frozenset[int] | set[int] = frozenset(),
    max_width: int = 28,
) -> str:
    """Align ``rows`` under ``headers``; columns in ``numeric`` are right-aligned."""
    cells = [[_truncate(str(value), max_width) for value in row] for row in rows]
    widths = [display_width(h) for h in headers]
    for row in cells:
        widths = [max(w, display_width(c)) for w, c in zip(widths, row, strict=True)]

    lines = [
        "  ".join(
            _pad(h, w, i in numeric) for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
    ]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(
                _pad(c, w, i in numeric) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(line.rstrip() for line in lines)


def to_json(model: BaseModel | Sequence[BaseModel]) -> str:
    if isinstance(model, BaseModel):
        return model.model_dump_json(indent=2)
    return json.dumps(
        [item.model_dump(mode="json") for item in model], indent=2, ensure_ascii=False
    )


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue()
