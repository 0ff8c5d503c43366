"""Issue 34, data side: meta.json schema, `prepare generic` inputs and outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from engine.data.generic import build_generic, prepare_generic
from engine.data.io import load_dataset
from engine.errors import DataError

INTER = "user_id,item_id,timestamp\n1,1,10\n1,2,20\n2,1,30\n"


def _files(tmp: Path, items: str) -> tuple[Path, Path]:
    (tmp / "inter.csv").write_text(INTER)
    (tmp / "items.csv").write_text(items)
    return tmp / "inter.csv", tmp / "items.csv"


@pytest.fixture
def prepared(tmp_path) -> Path:
    return prepare_generic(*_files(tmp_path, "item_id,name,genre\n1,A,pop\n2,B,rock\n"), tmp_path / "ds")


@pytest.mark.parametrize("meta, fragment", [
    (5, "holds int 5, not a JSON object"),
    ([1], "holds list [1], not a JSON object"),
    ({"time_resolution": "abc"}, "'time_resolution' is \"abc\", not a whole number of seconds ≥ 0"),
    ({"time_resolution": -1}, "'time_resolution' is -1"),
    ({"attributes": "genre"}, "'attributes' is \"genre\", not a list of distinct column names"),
    ({"synthetic": "no"}, "'synthetic' is \"no\", not true or false"),
    ({"name": ""}, "'name' is \"\", not a non-empty text"),
    ({"files": []}, "'files' is [], not a JSON object"),
])
def test_hand_edited_meta_json_is_a_data_error(prepared, meta, fragment):
    path = prepared / "meta.json"
    if isinstance(meta, dict):
        meta = json.loads(path.read_text()) | meta
    path.write_text(json.dumps(meta))
    with pytest.raises(DataError) as info:
        load_dataset(prepared)
    assert fragment in str(info.value) and "meta.json" in str(info.value)


def test_text_in_a_count_column_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="line 3: column 'listeners' has 'many', not an integer ≥ 0"):
        build_generic(*_files(tmp_path, "item_id,name,genre,listeners\n1,A,pop,5\n2,B,rock,many\n"))


def test_empty_count_cells_are_counted_from_the_interactions(tmp_path):
    ds = build_generic(*_files(tmp_path, "item_id,name,genre,listeners\n1,A,pop,\n2,B,rock,7\n"))
    assert ds.items["listeners"].tolist() == [2, 7]
    assert "listeners" not in ds.attributes


def test_counts_named_as_attributes_are_refused(tmp_path):
    inter, items = _files(tmp_path, "item_id,name,genre,listeners\n1,A,pop,5\n2,B,rock,6\n")
    with pytest.raises(DataError, match="are counts, not categorical attributes"):
        build_generic(inter, items, attributes=["listeners"])


def test_artists_named_none_and_nan_are_names(tmp_path):
    out = prepare_generic(*_files(tmp_path, "item_id,name,genre\n1,None,pop\n2,NaN,rock\n"), tmp_path / "ds")
    assert load_dataset(out).items["name"].tolist() == ["None", "NaN"]


def test_an_empty_name_is_still_refused(tmp_path):
    with pytest.raises(DataError, match="line 3: column 'name' is empty"):
        build_generic(*_files(tmp_path, "item_id,name,genre\n1,A,pop\n2,,rock\n"))


def test_attribute_values_are_stripped_and_lower_cased(tmp_path):
    ds = build_generic(*_files(tmp_path, "item_id,name,genre\n1,A, Rock \n2,B,R&B/Soul\n"))
    assert ds.items["genre"].tolist() == ["rock", "r&b/soul"]


def test_out_pointing_at_a_file_is_refused_before_reading(tmp_path):
    inter, items = _files(tmp_path, "item_id,name\n1,A\n2,B\n")
    with pytest.raises(DataError, match="is a file, not a folder"):
        prepare_generic(inter, items, inter)
    assert inter.read_text() == INTER


def test_a_prepared_folder_is_replaced_only_with_force(tmp_path, prepared):
    inter, items = _files(tmp_path, "item_id,name,genre\n1,A,jazz\n2,B,jazz\n")
    with pytest.raises(DataError, match="already holds a prepared data set — pass --force"):
        prepare_generic(inter, items, prepared)
    assert set(load_dataset(prepared).items["genre"]) == {"pop", "rock"}
    prepare_generic(inter, items, prepared, force=True)
    assert set(pd.read_parquet(prepared / "items.parquet")["genre"]) == {"jazz"}
