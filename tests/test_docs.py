"""The README's settings table is a contract: every setting is in it, and it names no setting that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

from vetrina.settings import RENAMED, Settings

README = Path(__file__).resolve().parents[1] / "README.md"
DEPRECATED = {old.upper() for old in RENAMED}  # read only to warn that they were renamed


def _documented() -> set[str]:
    """Setting names in the table's first column: `VETRINA_A`, `VETRINA_B`, or `VETRINA_GROUP_A`, `_B` rows (B is
    GROUP_B)."""
    text = README.read_text()
    table = text[text.index("## Settings") : text.index("## Tests and benchmarks")]
    names: set[str] = set()
    for row in table.splitlines():
        if not row.startswith("| `"):
            continue
        first = row.split("|")[1]
        full = re.findall(r"`VETRINA_([A-Z0-9_]+)`", first)
        names.update(full)
        if full:
            group = full[0].split("_", 1)[0]  # `VETRINA_AUTOTAG_MIN_INLIERS`, `_MIN_SAMPLES`: AUTOTAG_MIN_SAMPLES
            names.update(f"{group}_{suffix}" for suffix in re.findall(r"`_([A-Z0-9_]+)`", first))
    return names


def test_every_setting_is_in_the_readme():
    names = {name.upper() for name in Settings.model_fields} - DEPRECATED
    missing = sorted(names - _documented())
    assert missing == [], f"add these to README.md's settings table: {missing}"
    assert all(f"VETRINA_{old}" in README.read_text() for old in DEPRECATED), "say what the old names became"


def test_the_readme_names_only_real_settings():
    real = {name.upper() for name in Settings.model_fields} | DEPRECATED
    assert sorted(_documented() - real) == []
