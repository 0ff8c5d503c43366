"""engine/atomic.py: concurrent writers to one path never collide; the file is always one whole JSON."""

from __future__ import annotations

import json
import threading

from engine.atomic import write_json


def test_two_writers_in_threads_never_collide(tmp_path):
    path = tmp_path / "out" / "result.json"
    payloads = [{"writer": w, "rows": list(range(2000)), "text": "x" * 5000} for w in range(2)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(payload: dict) -> None:
        try:
            start.wait()
            for _ in range(50):
                write_json(path, payload)
                json.loads(path.read_text(encoding="utf-8"))  # never half a file, even mid-race
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert json.loads(path.read_text(encoding="utf-8")) in payloads
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]  # no temporary file left behind
