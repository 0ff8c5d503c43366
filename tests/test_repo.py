"""Repository rules: the README's two commands, CI running the test one, no licensed data tracked."""

from __future__ import annotations

import re
import subprocess

from engine.data.paths import repo_root

ROOT = repo_root()
LICENSED = re.compile(
    r"(\.dat$|user_taggedartists|user_artists|LastFM\.txt|Beauty\.txt|Sports_and_Outdoors"
    r"|item2attributes\.json$|^sample_data/(?!synthetic/|README\.md$))"
)


def _readme_commands() -> list[str]:
    section = ROOT.joinpath("README.md").read_text().split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)


def test_readme_gives_exactly_two_commands():
    commands = _readme_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    assert "torch==2.13.0" in commands[0] and "streamlit run" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = ROOT.joinpath(".ci/run").read_text()
    assert _readme_commands()[1] in ci


def test_no_licensed_data_is_tracked():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not files:  # not a git checkout (e.g. an sdist): nothing to check
        return
    leaked = [f for f in files if LICENSED.search(f)]
    assert not leaked
