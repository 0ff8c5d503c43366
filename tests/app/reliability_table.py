"""Render the reliability table of ``tests/app/test_reliability.py`` as markdown for the README.

    python tests/app/reliability_table.py          # print the table
    python tests/app/reliability_table.py --write  # rewrite the README region between the markers

The README region must equal :func:`render` (checked by ``test_readme_table_is_current``).
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
README = ROOT / "README.md"
BEGIN, END = "<!-- RELIABILITY:BEGIN -->", "<!-- RELIABILITY:END -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(rows) -> str:
    """Markdown table: layer | bad input | what the user gets."""
    lines = ["| Layer | Bad input | What the user gets (exception type + message fragment) |",
             "|---|---|---|"]
    for r in rows:
        got = f"`{r.expected.__name__}`: “{r.fragment}”" if r.expected else f"{r.outcome}: “{r.fragment}”"
        if r.gpu_skip:
            got += " (skipped on a machine with a GPU)"
        lines.append(f"| {r.layer} | {_cell(r.case)} | {_cell(got)} |")
    return "\n".join(lines) + "\n"


def region(text: str) -> str:
    """The text between the README markers (without them)."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip("\n") + "\n"


def write(rows, path: Path = README) -> None:
    text = path.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    path.write_text(text[:start] + "\n" + render(rows) + text[end:], encoding="utf-8")


def _rows():
    for p in (str(TESTS / "app"), str(TESTS), str(ROOT)):
        if p not in sys.path:
            sys.path.insert(0, p)
    from test_reliability import ROWS

    return ROWS


if __name__ == "__main__":
    rows = _rows()
    if "--write" in sys.argv[1:]:
        write(rows)
        print(f"wrote {len(rows)} rows to {README}")
    else:
        print(render(rows), end="")
