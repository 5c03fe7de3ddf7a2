"""The shape of the code: layers import only downwards, no module imports itself round a
circle, and the two executors keep the runner contract side by side."""

import ast
import inspect
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from tests.conftest import REPO

LAYERS = {"rnn_core": 0, "dashboard": 1, "app_pages": 2}


def imports_of(path: Path) -> set[str]:
    """The project modules a file imports, as dotted names."""
    package = path.parent.name
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 1:
            base = f"{package}.{node.module}" if node.module else package
            found |= {base} if node.module else {f"{package}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return {name for name in found if name.split(".")[0] in LAYERS}


def project_modules() -> dict[str, Path]:
    return {f"{path.parent.name}.{path.stem}": path for layer in LAYERS for path in (REPO / layer).glob("*.py")}


def test_no_module_imports_itself_round_a_circle():
    modules = project_modules()
    graph = {name: {dep for dep in imports_of(path) if dep in modules} - {name} for name, path in modules.items()}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as err:
        pytest.fail(f"an import circle: {' -> '.join(err.args[1])}")


def test_each_layer_imports_only_from_the_layers_below_it():
    for name, path in project_modules().items():
        layer = LAYERS[name.split(".")[0]]
        upwards = [dep for dep in imports_of(path) if LAYERS[dep.split(".")[0]] > layer]
        assert not upwards, f"{name} imports {upwards}"


def test_the_ray_executor_subclasses_nothing_of_the_local_one():
    ray_executor = pytest.importorskip("rnn_core.ray_executor")
    from rnn_core import jobs, local_executor

    theirs = {cls for module in (jobs, local_executor) for _, cls in inspect.getmembers(module, inspect.isclass)}
    for _, cls in inspect.getmembers(ray_executor, inspect.isclass):
        if cls.__module__ == ray_executor.__name__:
            assert not set(cls.__mro__[1:]) & theirs, cls


# Page, browser and CLI tests check what a page or a command says by its kind, its role or
# the state behind it (tests/kit.py); a whole sentence matched breaks on any rewording.
SENTENCE_TESTS = ("test_page_*.py", "browser/test_*.py", "test_cli_errors.py", "test_train.py", "test_app_shell.py")
SENTENCE_WORDS = 4  # words of two letters or more
MAX_SENTENCE_ASSERTIONS = 20  # issue 21: at most 20 (18 today)


def sentence_assertions() -> list[str]:
    """Each place a test matches a sentence: a string of `SENTENCE_WORDS` words or more in an
    `assert`, or given to Playwright's `get_by_text` or `to_have_text`."""

    def sentence(node: ast.AST) -> str | None:
        if isinstance(node, ast.JoinedStr):  # an f-string: its fixed parts
            node = ast.Constant("".join(part.value for part in node.values if isinstance(part, ast.Constant)))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value if len(re.findall(r"[A-Za-z]{2,}", node.value)) >= SENTENCE_WORDS else None
        return None

    found = []
    for pattern in SENTENCE_TESTS:
        for path in sorted((REPO / "tests").glob(pattern)):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Assert):
                    texts = [sentence(part) for part in ast.walk(node.test)]
                elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("get_by_text", "to_have_text"):
                    texts = [sentence(argument) for argument in node.args]
                else:
                    continue
                if text := next((text for text in texts if text), None):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}: {text}")
    return found


def test_page_browser_and_cli_tests_match_few_whole_sentences():
    found = sentence_assertions()
    assert len(found) <= MAX_SENTENCE_ASSERTIONS, "\n".join(found)
