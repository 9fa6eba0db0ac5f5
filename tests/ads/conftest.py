"""The IAB's VAST and VMAP conformance files (schemas and sample tags), read in place from outside the repository.

They are third-party files that are never copied into the project. They are looked for in
$VETRINA_CONFORMANCE_DIR when it is set (and only there), else in ../shared/conformance beside the repository,
else in /work/shared/conformance (a clone elsewhere on this machine). Tests get them through the fixtures below,
which all go through `_iab_vast`: when a file is missing, a test that needs it is skipped with a reason that
names what was not checked and where the files were looked for; under CI (CI=true, any case) the test fails
instead, since CI always has the files and a skipped conformance check would pass unnoticed."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

ENV = "VETRINA_CONFORMANCE_DIR"
REPOSITORY = Path(__file__).resolve().parents[2]
SAMPLES = "samples/*/*.xml"
INLINE_LINEAR = "samples/4.2/Inline_Linear_Tag-test.xml"
READ_SAMPLES = "reading the IAB's VAST sample tags (3.0 to 4.2) and rewriting them as valid VAST 4.2"


def _places() -> list[tuple[Path, str]]:
    """Where the conformance folder (the one holding iab-vast/) may be, each with how it was chosen."""
    if os.environ.get(ENV):
        return [(Path(os.environ[ENV]), ENV)]
    return [
        (REPOSITORY.parent / "shared" / "conformance", "../shared/conformance beside the repository"),
        (Path("/work/shared/conformance"), "this machine's shared folder"),
    ]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _find(wanted: str) -> Path | None:
    """The first iab-vast folder that holds `wanted` (a path or a glob in it)."""
    return next((place / "iab-vast" for place, _why in _places() if any((place / "iab-vast").glob(wanted))), None)


def _skip_reason(wanted: str, unchecked: str) -> str:
    where = " or ".join(f"{place} ({why})" for place, why in _places())
    files = "files" if "*" in wanted else "file"
    return f"not checked: {unchecked}; the IAB conformance {files} iab-vast/{wanted} not found in {where}"


def _iab_vast(wanted: str, unchecked: str) -> Path:
    """The iab-vast folder that holds `wanted`. Missing: fail under CI, else skip, saying what was not checked
    (`unchecked`), which file(s) and which folders were looked in."""
    folder = _find(wanted)
    if folder is not None:
        return folder
    if _in_ci():
        where = " or ".join(f"{place} ({why})" for place, why in _places())
        pytest.fail(
            f"CI=true but the IAB conformance folder is missing: iab-vast/{wanted} is not in {where}. "
            f"CI must check {unchecked}, so a missing folder fails the run instead of skipping: put the "
            f"conformance folder at ../shared/conformance beside the repository, or set {ENV} to it.",
            pytrace=False,
        )
    pytest.skip(_skip_reason(wanted, unchecked))


@pytest.fixture(scope="session")
def assert_valid_vast() -> Callable[[bytes], None]:
    """Checks a VAST document against the IAB's VAST 4.2 schema, twice: `xmlschema` follows XML Schema 1.0, in
    which a URL with VAST macros (`[ERRORCODE]`) is a valid xs:anyURI (brackets are escaped before the URI
    check); libxml2 (lxml) is stricter than the specification there, so it checks the same document with the
    macros filled in as a player fills them. The document must also read back."""
    import xmlschema
    from lxml import etree

    from vetrina.ads.vast import read_vast

    folder = _iab_vast("xsd/vast_4.2.xsd", "VAST 4.2 schema validation of the VAST that Vetrina writes")
    path = folder / "xsd" / "vast_4.2.xsd"
    strict, spec = etree.XMLSchema(etree.parse(str(path))), xmlschema.XMLSchema(str(path))

    def check(data: bytes) -> None:
        read_vast(data)
        spec.validate(data.decode())
        filled = re.sub(rb"\[[A-Z_]+\]", b"0", data)  # what a player sends after filling the macros
        assert strict.validate(etree.fromstring(filled)), strict.error_log

    return check


@pytest.fixture(scope="session")
def vmap_schema():
    """The IAB's VMAP 1.0 schema (an `xmlschema.XMLSchema`). It imports a VAST 3 namespace that
    vast3_draft.xsd does not declare: libxml2 refuses to load it, xmlschema loads it (the import is only used for
    inline VAST data, which Vetrina does not send)."""
    import xmlschema

    folder = _iab_vast("xsd/vmap.xsd", "VMAP 1.0 schema validation of the VMAP that Vetrina writes")
    return xmlschema.XMLSchema(str(folder / "xsd" / "vmap.xsd"))


@pytest.fixture(scope="session")
def iab_samples() -> list[Path]:
    """Every IAB VAST sample tag (versions 3.0 to 4.2)."""
    return sorted(_iab_vast(SAMPLES, READ_SAMPLES).glob(SAMPLES))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test taking `iab_sample` runs once per IAB sample tag. Without them it runs once, to fail under CI, or
    is skipped (by a mark, so before its other fixtures) saying that the samples were not read."""
    if "iab_sample" not in metafunc.fixturenames:
        return
    folder = _find(SAMPLES)
    if folder is not None:
        samples = sorted(folder.glob(SAMPLES))
        metafunc.parametrize("iab_sample", samples, ids=lambda p: f"{p.parent.name}/{p.stem}", indirect=True)
        return
    marks = [] if _in_ci() else [pytest.mark.skip(reason=_skip_reason(SAMPLES, READ_SAMPLES))]
    metafunc.parametrize("iab_sample", [pytest.param(None, marks=marks)], ids=["no-iab-samples"], indirect=True)


@pytest.fixture
def iab_sample(request: pytest.FixtureRequest) -> Path:
    """One IAB VAST sample tag (see `pytest_generate_tests`)."""
    if request.param is None:
        _iab_vast(SAMPLES, READ_SAMPLES)
    return request.param


@pytest.fixture(scope="session")
def iab_inline_tag() -> bytes:
    """The IAB's VAST 4.2 inline linear sample: what a third-party ad server answers at the end of a chain."""
    folder = _iab_vast(
        INLINE_LINEAR, "third-party wrapper chains resolved down to the IAB's VAST 4.2 inline linear sample"
    )
    return (folder / INLINE_LINEAR).read_bytes()
