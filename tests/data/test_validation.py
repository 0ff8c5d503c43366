"""Bad inputs: each loader raises ONE DataError naming file, line and problem; nothing half-written."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from engine.data.generic import build_generic
from engine.data.hetrec import download, read_hetrec
from engine.data.io import load_dataset, save_dataset
from engine.data.lastfm import build_lastfm
from engine.data.s3rec import build_s3rec
from engine.data.schema import ITEM_ID, TIMESTAMP, USER_ID
from engine.data.synthetic import SyntheticConfig, generate_synthetic
from engine.errors import DataError

GOOD = {
    "artists.dat": "id\tname\turl\tpictureURL\n1\tMALICE MIZER\tu\tp\n2\tBeyoncé\tu\tp\n3\tМумий Тролль\tu\tp\n",
    "tags.dat": "tagID\ttagValue\n1\tmetal\n2\tj-rock\n3\tpop\n4\t80s\n5\tréunion\n",
    "user_artists.dat": "userID\tartistID\tweight\n2\t1\t100\n2\t2\t50\n3\t2\t10\n3\t3\t5\n",
    "user_taggedartists.dat": (
        "userID\tartistID\ttagID\tday\tmonth\tyear\n"
        "2\t1\t2\t1\t4\t2009\n2\t1\t2\t1\t4\t2009\n2\t2\t3\t1\t3\t2009\n2\t1\t1\t1\t3\t1956\n"
        "3\t2\t3\t1\t1\t2010\n3\t3\t4\t1\t1\t2010\n3\t9\t1\t1\t1\t2010\n"
    ),
}
ENCODINGS = {"tags.dat": "latin-1"}


def _hetrec(folder: Path, **override: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {**GOOD, **override}.items():
        data = text if isinstance(text, bytes) else text.encode(ENCODINGS.get(name, "utf-8"))
        (folder / name).write_bytes(data)
    return folder


def _error(call, *parts: str) -> DataError:
    with pytest.raises(DataError) as info:
        call()
    for part in parts:
        assert part in str(info.value), (part, str(info.value))
    return info.value


def test_tiny_release_builds(tmp_path: Path) -> None:
    _error(lambda: build_lastfm(_hetrec(tmp_path / "raw"), reference=tmp_path / "none.tsv"), "none.tsv", "no such file")
    ds = build_lastfm(_hetrec(tmp_path / "raw"))
    items = ds.items.set_index(ITEM_ID)
    assert items.loc[1, "language"] == "ja" and items.loc[3, "language"] == "ru"
    assert ds.interactions[ITEM_ID].tolist() == [2, 1, 2, 3]  # dangling 9 and the 1956 date handled
    assert [h["count"] for h in ds.card["handling"]] == [1, 1, 0]


@pytest.mark.parametrize(("name", "content", "parts"), [
    ("artists.dat", "id\tname\turl\tpictureURL\n1\tA\tu\tp\n2\tBeyonc\xe9\tu\tp\n".encode("latin-1"),
     ("artists.dat, line 3", "not valid utf-8", "UTF-8")),
    ("artists.dat", "id\tname\turl\tpictureURL\n1\tA\tu\tp\n1\tB\tu\tp\n", ("artists.dat, line 3", "duplicate id=1")),
    ("artists.dat", b"", ("artists.dat", "empty")),
    ("artists.dat", "id\tname\turl\tpictureURL\n", ("artists.dat", "no data rows")),
    ("artists.dat", "id\tname\turl\tpictureURL\n1\tA\tu\tp\textra\n", ("artists.dat, line 2", "5 fields")),
    ("user_artists.dat", "userID\tartistID\n2\t1\n", ("user_artists.dat, line 1", "missing column(s) ['weight']")),
    ("user_artists.dat", "userID\tartistID\tweight\tx\n2\t1\t5\t0\n", ("user_artists.dat, line 1", "unexpected")),
    ("user_artists.dat", "userID\tartistID\tweight\n2\t1\tlots\n", ("user_artists.dat, line 2", "'weight'", "'lots'")),
    ("user_artists.dat", "userID\tartistID\tweight\n2\t7\t5\n", ("user_artists.dat, line 2", "artistID 7")),
    ("user_taggedartists.dat", "userID\tartistID\ttagID\tday\tmonth\tyear\n2\t1\t77\t1\t1\t2009\n",
     ("user_taggedartists.dat, line 2", "tagID 77")),
    ("user_taggedartists.dat", "userID\tartistID\ttagID\tday\tmonth\tyear\n2\t1\t1\t1\t1\t2009\n2\t1\t1\t1\t13\t2009\n",
     ("user_taggedartists.dat, line 3", "impossible date")),
])
def test_hetrec_bad_files(tmp_path: Path, name: str, content: str | bytes, parts: tuple[str, ...]) -> None:
    folder = _hetrec(tmp_path / "raw", **{name: content})
    _error(lambda: read_hetrec(folder), *parts)


def test_tags_in_latin1_or_utf8(tmp_path: Path) -> None:
    latin = read_hetrec(_hetrec(tmp_path / "latin"))
    utf8 = read_hetrec(_hetrec(tmp_path / "utf8", **{"tags.dat": GOOD["tags.dat"].encode("utf-8")}))
    assert "réunion" in set(latin.tags["tag"]) and set(latin.tags["tag"]) == set(utf8.tags["tag"])


def test_download_from_a_url(tmp_path: Path) -> None:
    folder = _hetrec(tmp_path / "raw")
    archive = tmp_path / "release.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in GOOD:
            zf.write(folder / name, f"hetrec2011-lastfm-2k/{name}")
    got = download(tmp_path / "cache", url=archive.as_uri())
    assert got.parent == tmp_path / "cache" and read_hetrec(got).artists["artist_id"].tolist() == [1, 2, 3]
    (tmp_path / "page.html").write_text("<html>moved</html>")
    _error(lambda: download(tmp_path / "cache", url=(tmp_path / "page.html").as_uri()), "not a zip file")
    _error(lambda: download(tmp_path / "cache", url=(tmp_path / "missing.zip").as_uri()), "download failed")
    assert not list((tmp_path / "cache").glob("*.tmp"))


def test_hetrec_missing_file_and_bad_source(tmp_path: Path) -> None:
    folder = _hetrec(tmp_path / "raw")
    (folder / "tags.dat").unlink()
    _error(lambda: read_hetrec(folder), "missing ['tags.dat']")
    (tmp_path / "fake.zip").write_text("not a zip")
    _error(lambda: read_hetrec(tmp_path / "fake.zip"), "neither a folder nor a zip")
    _error(lambda: read_hetrec(tmp_path / "nowhere"), "no such file or folder")


@pytest.mark.parametrize(("text", "parts"), [
    ("1 2 3\n2 4 x5\n", ("line 2", "'x5'")),
    ("1 2 3\n\n2 4\n", ("line 2", "empty line")),
    ("1 2 3\n2\n", ("line 2", "has no items")),
    ("1 2 3\n1 4 5\n", ("line 2", "duplicate user_id=1")),
    ("", ("empty",)),
])
def test_s3rec_bad_sequences(tmp_path: Path, text: str, parts: tuple[str, ...]) -> None:
    txt = tmp_path / "Seq.txt"
    txt.write_text(text)
    _error(lambda: build_s3rec(txt), "Seq.txt", *parts)


@pytest.mark.parametrize(("text", "parts"), [
    ('{"1": [1, 2],\n "2": [3,]}', ("line 2", "invalid JSON")),
    ("[1, 2]", ("not an object",)),
    ('{"1": ["a"]}', ("entry '1'",)),
])
def test_s3rec_bad_attributes(tmp_path: Path, text: str, parts: tuple[str, ...]) -> None:
    txt = tmp_path / "Seq.txt"
    txt.write_text("1 1 2\n")
    (tmp_path / "Seq_item2attributes.json").write_text(text)
    _error(lambda: build_s3rec(txt), "Seq_item2attributes.json", *parts)


def test_s3rec_not_utf8(tmp_path: Path) -> None:
    txt = tmp_path / "Seq.txt"
    txt.write_bytes(b"1 1 2\n2 3 \xff\n")
    _error(lambda: build_s3rec(txt), "Seq.txt, line 2", "not valid utf-8")


ITEMS = "item_id,name,genre\n1,A,pop\n2,B,rock\n"


@pytest.mark.parametrize(("inter", "items", "parts"), [
    ("user_id,item_id\n1,1\n", ITEMS, ("inter.csv, line 1", "missing column(s) ['timestamp']")),
    ("user_id,item_id,timestamp\n1,1,10\n1,3,20\n", ITEMS, ("inter.csv, line 3", "item_id '3' is not in the catalogue")),
    ("user_id,item_id,timestamp\n1,1,10\n1,2,yesterday\n", ITEMS, ("inter.csv, line 3", "'yesterday' is not integer seconds")),
    ("user_id,item_id,timestamp\n1,1,1700000000000\n", ITEMS, ("inter.csv, line 2", "milliseconds")),
    ("user_id,item_id,timestamp\n1,1,10\n1,1,10\n", ITEMS, ("inter.csv, line 3", "duplicate")),
    ("user_id,item_id,timestamp\n1,,10\n", ITEMS, ("inter.csv, line 2", "'item_id' is empty")),
    ("user_id,item_id,timestamp\n1,1,10\n", "item_id,name\n1,A\n1,B\n", ("items.csv, line 3", "duplicate item_id='1'")),
    ("user_id,item_id,timestamp\n1,1,10\n", "item_id,title\n1,A\n", ("items.csv, line 1", "missing column(s) ['name']")),
    ("user_id,item_id,timestamp\n1,1,10\n", "item_id,name,explicit\n1,A,maybe\n", ("items.csv, line 2", "'maybe'")),
    ("", ITEMS, ("inter.csv", "empty")),
])
def test_generic_bad_files(tmp_path: Path, inter: str, items: str, parts: tuple[str, ...]) -> None:
    (tmp_path / "inter.csv").write_text(inter)
    (tmp_path / "items.csv").write_text(items)
    _error(lambda: build_generic(tmp_path / "inter.csv", tmp_path / "items.csv"), *parts)


def test_generic_bad_types_and_attributes(tmp_path: Path) -> None:
    (tmp_path / "inter.json").write_text("{}")
    (tmp_path / "items.csv").write_text(ITEMS)
    _error(lambda: build_generic(tmp_path / "inter.json", tmp_path / "items.csv"), "unsupported file type '.json'")
    (tmp_path / "inter.csv").write_text("user_id,item_id,timestamp\n1,1,10\n")
    _error(lambda: build_generic(tmp_path / "inter.csv", tmp_path / "items.csv", attributes=["mood"]),
           "items.csv", "['mood'] not found")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    _error(lambda: build_generic(tmp_path / "bad.parquet", tmp_path / "items.csv"), "bad.parquet", "parquet")


@pytest.fixture(scope="module")
def tiny():
    return generate_synthetic(SyntheticConfig(seed=1, n_users=5, n_items=100))


def test_load_dataset_rejects_broken_folders(tmp_path: Path, tiny) -> None:
    _error(lambda: load_dataset(tmp_path / "nope"), "no such data folder")
    folder = save_dataset(tiny, tmp_path / "ok")
    (tmp_path / "empty").mkdir()
    _error(lambda: load_dataset(tmp_path / "empty"), "meta.json", "not a prepared data folder")
    inter = pd.read_parquet(folder / "interactions.parquet")
    inter.loc[3, ITEM_ID] = 99_999
    inter.to_parquet(folder / "interactions.parquet")
    _error(lambda: load_dataset(folder), "interactions, row 4", "item_id 99999 is not in the catalogue")
    inter = tiny.interactions.copy()
    inter.loc[[0, 1], TIMESTAMP] = inter.loc[[1, 0], TIMESTAMP].to_numpy() + [0, 10**6]
    inter.to_parquet(folder / "interactions.parquet")
    _error(lambda: load_dataset(folder), "not sorted by user, then time")
    inter.drop(columns=[USER_ID]).to_parquet(folder / "interactions.parquet")
    _error(lambda: load_dataset(folder), "missing column 'user_id'")
    (folder / "items.parquet").write_bytes(b"garbage")
    _error(lambda: load_dataset(folder), "items.parquet", "not a readable parquet")
    (folder / "meta.json").write_text('{"name": "x",\n "source": }')
    _error(lambda: load_dataset(folder), "meta.json, line 2", "invalid JSON")


def test_failed_write_leaves_previous_files(tmp_path: Path, tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = save_dataset(tiny, tmp_path / "ds")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    other = generate_synthetic(SyntheticConfig(seed=2, n_users=5, n_items=100))
    original = pd.DataFrame.to_parquet

    def failing(self, path, *args, **kwargs):
        if "interactions" in str(path):
            raise OSError("disk full")
        return original(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", failing)
    with pytest.raises(OSError):
        save_dataset(other, folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # no temp files, nothing replaced
    monkeypatch.undo()
    save_dataset(other, folder)
    assert json.loads((folder / "meta.json").read_text())["synthetic"] is True
    pd.testing.assert_frame_equal(load_dataset(folder).interactions, other.interactions)


@pytest.mark.parametrize("damage", [b'{"labels_leave_out": {"holdout": 3', b"\xff\xfe not text", b"[1, 2]"])
def test_damaged_card_is_a_data_error_naming_the_file(tmp_path, damage):
    """A damaged card used to load as {} and silently switch off the held-out-label warning."""
    import shutil

    from engine.data.paths import default_dataset_dir

    folder = tmp_path / "synthetic"
    shutil.copytree(default_dataset_dir("synthetic"), folder)
    assert load_dataset(folder).card  # intact: the card is read
    (folder / "card.json").write_bytes(damage)
    with pytest.raises(DataError, match="card.json") as exc:
        load_dataset(folder)
    assert "prepare" in str(exc.value)
    (folder / "card.json").unlink()
    assert load_dataset(folder).card == {}  # no card at all is fine
