"""The public API (``engine/__init__``) loads lazily: schema constants without torch or FAISS."""

from __future__ import annotations

import subprocess
import sys

from engine.paths import REPO_ROOT


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)


def test_schema_import_loads_neither_torch_nor_faiss():
    res = _run("import sys, engine.data.schema, engine.errors\n"
               "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'faiss'))\n"
               "assert not bad, bad[:5]\n")
    assert res.returncode == 0, res.stderr


def test_public_names_still_import():
    import engine
    from engine import (  # noqa: F401
        EXPLICIT_POLICIES,
        METHODS,
        EngineError,
        History,
        Instruction,
        Recommender,
        load_dataset,
        schema,
    )

    assert all(hasattr(engine, name) for name in engine.__all__)
    assert Recommender.__module__ == "engine.serving.recommender"
    assert schema.GENRE == "genre"


def test_unknown_public_name_is_an_attribute_error():
    import engine

    try:
        engine.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("engine.NoSuchThing did not raise")
