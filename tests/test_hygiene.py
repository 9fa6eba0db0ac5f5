"""Rules for the test suite itself, and for what the project may point at outside the repository.

- A test module imports neither another test module nor a conftest.py: fixtures are shared through conftest.py
  files (pytest finds them by folder), plain helpers through helpers.py modules.
- A test module never imports a fixture (a function decorated with @pytest.fixture), from anywhere: an imported
  fixture is a second registration that shadows or is shadowed by the conftest's, and lint has to be told to
  ignore it.
- Nothing under src/ or docs/ refers to the shared folder beside the repository (../shared): the project must
  stand on its own; only tests read third-party conformance files from there (tests/ads/conftest.py).
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
TESTS = REPOSITORY / "tests"
SHARED = ("../shared", "/work/shared")


def _modules() -> list[Path]:
    return sorted(path for path in TESTS.rglob("*.py") if "__pycache__" not in path.parts)


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    """The module an import-from names, relative imports resolved against the importing file's package."""
    if not node.level:
        return node.module or ""
    package = list(path.relative_to(REPOSITORY).with_suffix("").parts[:-1])
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _file_of(module: str) -> Path | None:
    """The file of a module in this repository's tests package (None for any other module)."""
    if module != "tests" and not module.startswith("tests."):
        return None
    base = REPOSITORY.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_test_module_or_conftest(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return last.startswith("test_") or last == "conftest"


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) for every import in a file, nested ones (inside functions) included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, _absolute(path, node), [alias.name for alias in node.names]))
    return found


def _fixtures_defined_in(path: Path) -> set[str]:
    """Names of the functions in a file decorated with @pytest.fixture / @fixture (with or without arguments)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if ast.unparse(target) in ("pytest.fixture", "fixture"):
                    names.add(node.name)
    return names


def _is_fixture(value: object) -> bool:
    """A fixture function as @pytest.fixture returns it (pytest >= 8.4 wraps it; earlier versions mark it)."""
    if type(value).__name__ == "FixtureFunctionDefinition":
        return True
    return inspect.isfunction(value) and "_pytestfixturefunction" in vars(value)


def test_no_test_file_imports_a_test_module_or_a_conftest():
    offences = []
    for path in _modules():
        for line, module, names in _imports(path):
            modules = [module, *(f"{module}.{name}" for name in names if _file_of(f"{module}.{name}"))]
            offences += [
                f"{path.relative_to(REPOSITORY)}:{line} imports {imported}"
                for imported in modules
                if _file_of(imported) and _is_test_module_or_conftest(imported)
            ]
    assert offences == [], "share fixtures through a conftest.py and helpers through a helpers.py:\n" + "\n".join(
        offences
    )


def test_no_test_module_imports_a_fixture():
    offences = []
    for path in _modules():
        if not path.name.startswith("test_"):
            continue
        for line, module, names in _imports(path):
            source = _file_of(module)
            if source is not None:
                fixtures = _fixtures_defined_in(source) & set(names)
            elif names and module and names != ["*"]:
                imported = importlib.import_module(module)
                fixtures = {name for name in names if _is_fixture(getattr(imported, name, None))}
            else:
                fixtures = set()
            offences += [f"{path.relative_to(REPOSITORY)}:{line} imports the fixture {module}.{f}" for f in fixtures]
    assert offences == [], "take fixtures from a conftest.py instead:\n" + "\n".join(offences)


def test_the_fixture_checks_recognise_a_fixture(tmp_path):
    """The two checks above would see one: in source, and as the object @pytest.fixture makes."""

    @pytest.fixture
    def probe() -> int:
        return 1

    source = tmp_path / "test_probe.py"
    source.write_text("import pytest\n\n\n@pytest.fixture(scope='session')\ndef probe():\n    return 1\n")
    assert _fixtures_defined_in(source) == {"probe"}
    assert _is_fixture(probe) and not _is_fixture(_is_fixture)
    assert not _is_fixture(importlib.import_module("sqlalchemy").func)  # answers any attribute it is asked for


def test_src_and_docs_never_refer_to_the_shared_folder():
    offences = []
    for folder in ("src", "docs"):
        for path in sorted((REPOSITORY / folder).rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            for number, line in enumerate(path.read_bytes().decode(errors="replace").splitlines(), 1):
                if any(shared in line for shared in SHARED):
                    offences.append(f"{path.relative_to(REPOSITORY)}:{number}: {line.strip()}")
    assert offences == [], "src/ and docs/ may not point outside the repository:\n" + "\n".join(offences)
