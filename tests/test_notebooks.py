"""The tutorial notebooks: stored clean, importing their models and math from strf_core, linked
from the README. (``pytest --nbmake`` executes them; see pyproject.toml.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CHAPTERS = (
    "01_tracklets.ipynb",
    "02_factorized_attention_mask.ipynb",
    "03_temporal_factorization.ipynb",
    "04_spatial_factorization.ipynb",
    "05_strf_in_a_3d_resnet.ipynb",
    "06_train_and_evaluate.ipynb",
    "07_attention_and_ablation.ipynb",
    "08_real_data.ipynb",
)
# Names a notebook must not define: models, losses and metrics belong in strf_core.
MATH_NAMES = re.compile(r"loss|metric|cmc|precision|average|softmax|attention|similarity", re.I)


def _notebook(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def _code(nb: nbformat.NotebookNode) -> str:
    return "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")


def test_the_chapters_are_all_there():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == list(CHAPTERS)


@pytest.mark.parametrize("name", CHAPTERS)
def test_stored_without_outputs(name):
    nb = _notebook(name)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: a code cell has stored outputs"
            assert cell.execution_count is None, f"{name}: a code cell has an execution count"
    assert "widgets" not in nb.metadata, f"{name}: stored widget state"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", CHAPTERS)
def test_imports_from_strf_core_and_defines_no_model_loss_or_metric(name):
    nb = _notebook(name)
    tree = ast.parse(_code(nb))
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)], (
        f"{name} defines a class: modules, losses and metrics belong in strf_core"
    )
    functions = [n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    assert not [f for f in functions if MATH_NAMES.search(f)], functions
    imported = {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "strf_core" in imported
    code = _code(nb)
    # plain functions of torch.nn.functional are allowed (the from-scratch unit), modules not
    assert not re.search(r"torch\.nn(?!\.functional)|from torch import nn", code)
    assert 'os.environ.get("STRF_FAST")' in code, f"{name} does not read its fast mode"


def _is_solution(cell: nbformat.NotebookNode) -> bool:
    return "solution" in cell.metadata.get("tags", [])


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_chapter_has_a_header_a_summary_and_exercises_with_solutions(name):
    nb = _notebook(name)
    header = nb.cells[0].source
    for part in ("**You will learn**", "**You need**", "**How long**"):
        assert part in header, f"{name}: the first cell does not say {part}"
    titles = [c.source.split("\n", 1)[0] for c in nb.cells if c.cell_type == "markdown"]
    assert "## Summary" in titles and "## Exercises" in titles, f"{name}: {titles}"
    start = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## Exercises"))
    end = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## Summary"))
    # each exercise: its statement, then (before the next one) hidden, tagged solution cells
    exercises: list[list[nbformat.NotebookNode]] = []
    for cell in nb.cells[start:end]:
        if cell.cell_type == "markdown" and "**Exercise" in cell.source:
            exercises.append([])
        elif exercises:
            exercises[-1].append(cell)
    assert 2 <= len(exercises) <= 4, f"{name}: {len(exercises)} exercises"
    for k, cells in enumerate(exercises, 1):
        solutions = [c for c in cells if _is_solution(c)]
        assert solutions, f"{name}: exercise {k} has no solution cell"
        for c in solutions:
            assert c.metadata.get("jupyter", {}).get("source_hidden"), f"{name}: {k} not hidden"
    # at least one asks for code: a solution code cell, then a check that asserts the answer
    checked = [
        cells
        for cells in exercises
        if any(c.cell_type == "code" and _is_solution(c) for c in cells)
        and any(
            c.cell_type == "code" and not _is_solution(c) and "assert" in c.source for c in cells
        )
    ]
    assert checked, f"{name}: no code exercise with a check"


def test_readme_links_every_chapter_with_a_line_on_what_it_teaches():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Tutorials", 1)[1].split("\n## ", 1)[0]
    assert "jupyter lab notebooks/" in section
    for name in CHAPTERS:
        line = next((x for x in section.splitlines() if f"(notebooks/{name})" in x), None)
        assert line is not None, f"README's Tutorials section does not link {name}"
        assert len(line.split(":", 1)[-1].split()) >= 5, f"no line on what {name} teaches"
