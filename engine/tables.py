"""Every table the engine prints or writes: GitHub markdown and aligned plain text.

A foundation module (no engine imports): the data card, the evaluation report, the
benchmarks and the command line all format numbers through here.
"""

from __future__ import annotations


def num(v, digits: int = 3) -> str:
    """Numbers for reports: ints with thousands separators, floats to ``digits`` significant digits."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v == 0:
            return "0"
        return f"{v:.{digits}g}" if abs(v) < 10 ** digits else f"{v:,.0f}"
    return str(v)


def short(v) -> str:
    """Numbers for terminal tables: two decimals, three significant digits below 0.01."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 0.01 else f"{v:.2f}"
    return str(v)


def card_number(value: object) -> str:
    """Numbers for the data card: four significant digits below 1, else up to two decimals."""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1 else f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def md_table(headers: list[str], rows: list[list], fmt=num) -> str:
    """A GitHub markdown table; ``fmt`` formats each cell (pipes in cells are escaped)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(fmt(v).replace("|", "\\|") for v in r) + " |")
    return "\n".join(lines)


def metric_table(rows: dict[str, dict], cols: list[str]) -> str:
    """Named rows of metrics to four decimals (missing: nan), as in the evaluation report."""
    lines = ["| | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for name, r in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{r.get(c, float('nan')):.4f}" for c in cols) + " |")
    return "\n".join(lines)


def text_table(headers: list[str], rows: list[list]) -> str:
    """Plain aligned columns (numbers right-aligned)."""
    cells = [[short(v) for v in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    numeric = [all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) for i in range(len(headers))]

    def line(vals):
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(vals, widths, numeric, strict=True))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])
