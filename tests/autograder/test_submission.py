"""Reading a submission: what runs, which cells are tests, and the flags, for notebooks as students really send
them (stripped metadata, huge outputs, files that are not notebooks). No code runs here."""

from __future__ import annotations

import json

import nbformat
import pytest
from fixture_class import RELEASE, SOURCE, notebook

from autograder.submission import MAX_CODE_BYTES, UnreadableSubmission, read_submission

TEST_CELLS = {c.metadata["nbgrader"]["grade_id"]: c.source.strip() for c in nbformat.read(RELEASE, as_version=4).cells
              if c.metadata.get("nbgrader", {}).get("grade")}
TESTS = list(TEST_CELLS)


def read(nb, tmp_path, name="01_mdps.ipynb"):
    path = tmp_path / name
    if isinstance(nb, bytes):
        path.write_bytes(nb)
    else:
        nbformat.write(nb, path)
    return read_submission(path, SOURCE, RELEASE)


def stripped(nb):
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    return nb


def test_a_correct_notebook_with_stripped_metadata_is_not_empty_and_its_tests_are_found(tmp_path):
    read_nb = read(stripped(notebook()), tmp_path)
    assert not read_nb.empty and not any("empty" in flag for flag in read_nb.flags), read_nb.flags
    assert set(read_nb.test_positions) == set(TESTS)
    assert all("found by its content" in flag for flag in read_nb.flags if "stripped" in flag)
    assert not any(source.strip() in TEST_CELLS.values() for _, source in read_nb.cells)  # copies do not run


def test_a_blank_notebook_is_empty_with_or_without_metadata(tmp_path):
    assert read(nbformat.read(RELEASE, as_version=4), tmp_path).empty
    assert read(stripped(nbformat.read(RELEASE, as_version=4)), tmp_path).empty


def test_outputs_are_dropped_before_the_size_limit(tmp_path):
    nb = notebook()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 2**20)] * 6
    read_nb = read(nb, tmp_path)
    assert (tmp_path / "01_mdps.ipynb").stat().st_size > 30 * 2**20
    assert read_nb.cells and not read_nb.empty


def test_a_limit_on_code_remains(tmp_path):
    nb = notebook(extra_cells=["x = '" + "y" * (MAX_CODE_BYTES + 1) + "'"])
    with pytest.raises(UnreadableSubmission, match="MiB of code"):
        read(nb, tmp_path)


@pytest.mark.parametrize(("content", "says"), [
    (b"%PDF-1.4\n...", "this file is a PDF document, not a Jupyter notebook"),
    (b"import numpy as np\n\ndef value_iteration(P, R, gamma, tol):\n    pass\n", "a Python script"),
    (b"<!DOCTYPE html><html><body>notebook</body></html>", "an HTML page"),
    (b"PK\x03\x04binary", "a zip archive"),
    (b'{"cells": [', "not a Jupyter notebook"),
    (json.dumps({"a": 1}).encode(), "not a Jupyter notebook"),
])
def test_a_file_that_is_not_a_notebook_gets_a_sentence(content, says, tmp_path):
    with pytest.raises(UnreadableSubmission) as error:
        read(content, tmp_path)
    assert says in str(error.value) and "submit the .ipynb file" in str(error.value)
    assert "JSONDecodeError" not in str(error.value)
