"""The catalogues are complete and current: every text the code, templates and scripts show has an Italian and a
Chinese translation, with the same placeholders, and the compiled catalogues the server reads match them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from vetrina.i18n import DOMAIN, LOCALE_DIR, SCRIPT_DOMAIN

ROOT = Path(__file__).resolve().parents[2]
PYBABEL = Path(sys.executable).with_name("pybabel")
LANGUAGE_DIRS = ("it", "zh_Hans_CN")
PLACEHOLDER = re.compile(r"\{(\w*)(?:[:!][^}]*)?\}")
EXTRACTION = {  # domain: (mapping file, keyword options) as the Makefile's `i18n` target runs them
    DOMAIN: ("babel.cfg", ["-k", "n_:1,2"]),
    SCRIPT_DOMAIN: ("babel-scripts.cfg", ["--no-default-keywords", "-k", "t"]),
}


def _catalogue(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


def _ids(catalogue) -> set[str]:
    return {message.id if isinstance(message.id, str) else message.id[0] for message in catalogue if message.id}


def _key(text):
    """A message's id or text, plural forms as one tuple (Babel reads them as lists from .mo, tuples from .po)."""
    return tuple(text) if isinstance(text, (list, tuple)) else text


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> dict[str, set[str]]:
    """The texts the sources hold now, extracted as `make i18n` extracts them."""
    out = tmp_path_factory.mktemp("extracted")
    found = {}
    for domain, (mapping, keywords) in EXTRACTION.items():
        target = out / f"{domain}.pot"
        subprocess.run(
            [str(PYBABEL), "extract", "--no-location", "-F", mapping, *keywords, "-o", str(target), "src"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        found[domain] = _ids(_catalogue(target))
    return found


@pytest.mark.parametrize("domain", [DOMAIN, SCRIPT_DOMAIN])
def test_the_templates_hold_every_text_the_sources_show(extracted, domain) -> None:
    template = _ids(_catalogue(LOCALE_DIR / f"{domain}.pot"))
    assert extracted[domain], f"nothing extracted for {domain}: the extraction itself is broken"
    missing, stale = sorted(extracted[domain] - template), sorted(template - extracted[domain])
    assert not missing and not stale, (
        f"src/vetrina/locales/{domain}.pot is out of date: run `make i18n` and translate.\n"
        f"new texts: {missing[:20]}\ngone texts: {stale[:20]}"
    )


@pytest.mark.parametrize("language", LANGUAGE_DIRS)
@pytest.mark.parametrize("domain", [DOMAIN, SCRIPT_DOMAIN])
def test_every_text_is_translated_with_the_same_placeholders(language, domain) -> None:
    template = _ids(_catalogue(LOCALE_DIR / f"{domain}.pot"))
    catalogue = _catalogue(LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po")
    problems = []
    for message in catalogue:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        texts = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(texts):
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        wanted = set(PLACEHOLDER.findall(" ".join(ids)))
        for text in texts:
            if set(PLACEHOLDER.findall(text)) != wanted:
                problems.append(f"placeholders differ: {ids[0]!r} -> {text!r}")
    missing = template - _ids(catalogue)
    problems += [f"not in the catalogue (run make i18n): {text!r}" for text in sorted(missing)]
    assert not problems, f"{language}/{domain}.po: {len(problems)} problems:\n" + "\n".join(problems[:40])


@pytest.mark.parametrize("language", LANGUAGE_DIRS)
@pytest.mark.parametrize("domain", [DOMAIN, SCRIPT_DOMAIN])
def test_the_compiled_catalogue_the_server_reads_matches_its_source(language, domain) -> None:
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    assert (folder / f"{domain}.mo").exists(), "not compiled: `make install` compiles the catalogues"
    with (folder / f"{domain}.mo").open("rb") as handle:
        compiled = {_key(message.id): _key(message.string) for message in read_mo(handle) if message.id}
    source = {_key(m.id): _key(m.string) for m in _catalogue(folder / f"{domain}.po") if m.id and not m.fuzzy}
    assert compiled == source, f"{folder / domain}.mo is older than its .po: run `make install` (or `make i18n`)"
