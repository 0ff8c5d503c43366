"""Agreement of the prepared Last.fm labels with a hand-checked expert fixture.

The fixture (``tests/data/fixtures/expert_labels.csv``) lists well-known artists of the
HetRec catalogue with the genre, lyrics language and explicit flag a music expert gives
them from general knowledge (names and labels only; no licensed data). A cell may list
several acceptable values separated by ``|`` (Coldplay: ``rock|indie/alternative|pop``;
BoA: ``ko|ja``), because the coarse genres overlap and some acts sing in two languages.
An expert ``unknown`` (explicit of an act whose catalogue the expert cannot vouch for) is
left out of the comparison.

Per attribute, :func:`expert_agreement` reports how many fixture artists were found in
the items table, how many of them have a known label (ours and the expert's), how many
are ``unknown`` on our side, and the share of known labels that the expert accepts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from engine.data.schema import EXPLICIT, GENRE, LANGUAGE, NAME, UNKNOWN
from engine.errors import DataError

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "data" / "fixtures" / "expert_labels.csv"
CHECKED = (GENRE, LANGUAGE, EXPLICIT)


def read_fixture(path: str | Path = FIXTURE) -> pd.DataFrame:
    """The fixture as strings: ``name`` and one column per checked attribute."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file", "pass the expert fixture CSV (name, genre, language, explicit)")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in (NAME, *CHECKED) if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}", "columns: name, genre, language, explicit")
    if frame[NAME].duplicated().any():
        raise DataError(f"{path}: duplicate name {frame.loc[frame[NAME].duplicated(), NAME].iloc[0]!r}",
                        "list each artist once")
    return frame


def expert_agreement(items: pd.DataFrame, fixture: pd.DataFrame | str | Path = FIXTURE) -> dict:
    """Per attribute: fixture artists found, known on both sides, unknown on ours, agreement.

    ``items`` needs ``name`` and the checked attribute columns; artists are matched on the
    exact name (the first item of a name if it repeats). ``disagreements`` lists the
    artists whose known label the expert does not accept (name, ours, expert).
    """
    expert = fixture if isinstance(fixture, pd.DataFrame) else read_fixture(fixture)
    ours = items.drop_duplicates(NAME).set_index(NAME)
    found = expert[expert[NAME].isin(ours.index)]
    out: dict = {"fixture_artists": len(expert), "found_in_items": len(found),
                 "missing_from_items": sorted(set(expert[NAME]) - set(found[NAME]))}
    for attr in CHECKED:
        if attr not in ours.columns:
            continue
        label = ours.loc[found[NAME], attr].astype(str).to_numpy()
        accepted = found[attr].str.split("|")
        expert_known = (found[attr] != UNKNOWN).to_numpy()
        ours_known = label != UNKNOWN
        both = expert_known & ours_known
        ok = [lab in acc for lab, acc in zip(label, accepted, strict=True)]
        agree = both & pd.Series(ok, dtype=bool).to_numpy()
        n_both = int(both.sum())
        out[attr] = {
            "expert_known": int(expert_known.sum()),
            "ours_known": int((expert_known & ours_known).sum()),
            "ours_unknown": int((expert_known & ~ours_known).sum()),
            "agree": int(agree.sum()),
            "agreement": round(float(agree.sum() / n_both), 4) if n_both else None,
            "disagreements": [
                {"name": n, "ours": lab, "expert": exp}
                for n, lab, exp, b, a in zip(found[NAME], label, found[attr], both, agree, strict=True) if b and not a
            ],
        }
    return out


def agreement_rows(result: dict) -> list[tuple[str, int, int, int, str]]:
    """(attribute, expert-labelled, ours known, ours unknown, agreement) for tables."""
    rows = []
    for attr in CHECKED:
        v = result.get(attr)
        if isinstance(v, dict):
            share = "–" if v["agreement"] is None else f"{100 * v['agreement']:.1f}%"
            rows.append((attr, v["expert_known"], v["ours_known"], v["ours_unknown"], share))
    return rows
