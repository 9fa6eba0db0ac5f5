"""The IAB conformance fixtures (tests/ads/conftest.py) never skip silently: run in a pytest of their own on a
tiny test module, with the conformance folder pointed somewhere missing, they fail the run under CI (CI=true, in
any case) and elsewhere skip saying exactly what was not checked and where the files were looked for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
TINY = """
def test_validates_a_vmap(vmap_schema):
    raise AssertionError("ran without the VMAP schema")


def test_reads_a_sample(iab_sample):
    assert iab_sample.name in {"a.xml", "b.xml"}
"""


def run_tiny(tmp_path: Path, conformance: Path, ci: str | None) -> tuple[int, dict[str, tuple[str, str]], str]:
    """Runs TINY with the ads conftest as a plugin: exit code, {test: (outcome, message)} and the output."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_tiny.py").write_text(TINY)
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["VETRINA_CONFORMANCE_DIR"] = str(conformance)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the tiny module needs no installed plugin; starts faster
    env["PYTHONPATH"] = os.pathsep.join([str(REPOSITORY), *filter(None, [os.environ.get("PYTHONPATH")])])
    if ci is not None:
        env["CI"] = ci
    report = tmp_path / "report.xml"
    command = [sys.executable, "-m", "pytest", "-p", "tests.ads.conftest", "-p", "no:cacheprovider"]
    result = subprocess.run(
        [*command, "-q", f"--junitxml={report}", "test_tiny.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    outcomes = {}
    for case in ElementTree.parse(report).iter("testcase"):  # noqa: S314 (pytest's own report)
        child = next(iter(case), None)
        tag = "passed" if child is None or child.tag in ("system-out", "system-err") else child.tag
        outcomes[case.get("name")] = (tag, child.get("message", "") if child is not None else "")
    return result.returncode, outcomes, result.stdout + result.stderr


@pytest.mark.parametrize("ci", ["true", "True"])
def test_under_ci_a_missing_conformance_folder_fails_the_run_and_says_why(tmp_path, ci):
    missing = tmp_path / "no-conformance-here"
    code, outcomes, output = run_tiny(tmp_path, missing, ci)
    assert code == 1, output
    vmap = (
        f"CI=true but the IAB conformance folder is missing: iab-vast/xsd/vmap.xsd is not in {missing} "
        "(VETRINA_CONFORMANCE_DIR). CI must check VMAP 1.0 schema validation of the VMAP that Vetrina writes, so "
        "a missing folder fails the run instead of skipping"
    )
    samples = (
        f"CI=true but the IAB conformance folder is missing: iab-vast/samples/*/*.xml is not in {missing} "
        "(VETRINA_CONFORMANCE_DIR). CI must check reading the IAB's VAST sample tags (3.0 to 4.2) and rewriting "
        "them as valid VAST 4.2"
    )
    assert outcomes["test_validates_a_vmap"][0] == "error" and vmap in outcomes["test_validates_a_vmap"][1]
    assert outcomes["test_reads_a_sample[no-iab-samples]"][0] == "error"
    assert samples in outcomes["test_reads_a_sample[no-iab-samples]"][1]


@pytest.mark.parametrize("ci", [None, "false"])
def test_elsewhere_a_missing_conformance_folder_skips_naming_what_was_not_checked(tmp_path, ci):
    missing = tmp_path / "no-conformance-here"
    code, outcomes, output = run_tiny(tmp_path, missing, ci)
    assert code == 0, output
    assert outcomes == {
        "test_validates_a_vmap": (
            "skipped",
            "not checked: VMAP 1.0 schema validation of the VMAP that Vetrina writes; the IAB conformance file "
            f"iab-vast/xsd/vmap.xsd not found in {missing} (VETRINA_CONFORMANCE_DIR)",
        ),
        "test_reads_a_sample[no-iab-samples]": (
            "skipped",
            "not checked: reading the IAB's VAST sample tags (3.0 to 4.2) and rewriting them as valid VAST 4.2; "
            f"the IAB conformance files iab-vast/samples/*/*.xml not found in {missing} (VETRINA_CONFORMANCE_DIR)",
        ),
    }


def test_the_override_is_the_only_place_looked_in_when_set(tmp_path):
    """VETRINA_CONFORMANCE_DIR is used alone: its samples are read, and its missing schema is not looked for
    elsewhere (../shared/conformance would have it)."""
    conformance = tmp_path / "conformance"
    for sample in ("4.2/a.xml", "3.0/b.xml"):
        (conformance / "iab-vast" / "samples" / sample).parent.mkdir(parents=True, exist_ok=True)
        (conformance / "iab-vast" / "samples" / sample).write_text("<VAST/>")
    code, outcomes, output = run_tiny(tmp_path, conformance, None)
    assert code == 0, output
    assert outcomes["test_reads_a_sample[3.0/b]"] == outcomes["test_reads_a_sample[4.2/a]"] == ("passed", "")
    assert outcomes["test_validates_a_vmap"][0] == "skipped"
    assert (
        f"iab-vast/xsd/vmap.xsd not found in {conformance} (VETRINA_CONFORMANCE_DIR)"
        in (outcomes["test_validates_a_vmap"][1])
    )
