"""Finding submissions: Canvas, Moodle and Blackboard file names, plain folders and files; no two submitters ever
share a student id; the latest attempt is graded and the others flagged; nothing found is an error."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from autograder.grade import main
from autograder.inputs import NoSubmissions, extract_zip, find_jobs, require_notebooks

A = "01_mdps"


def touch(folder: Path, *names: str, text: str = '{"cells": []}') -> Path:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{text} {name}")  # distinct content per file
    return folder


def jobs_by_student(folder: Path, names=(A,)) -> dict:
    found = find_jobs(folder, list(names))
    students = [job.student for job in found.jobs]
    assert len(students) == len(set(students)), f"two jobs share a student id: {students}"
    return {job.student: job for job in found.jobs}


def test_canvas_same_name_different_user_ids_stay_apart(tmp_path):
    jobs = jobs_by_student(touch(tmp_path, f"smithjohn_1000_52001_{A}.ipynb", f"smithjohn_2000_52002_{A}.ipynb"))
    assert len(jobs) == 2
    assert {j.lms_id for j in jobs.values()} == {"1000", "2000"}
    assert all(j.lms == "canvas" and j.name == "smithjohn" for j in jobs.values())
    assert {Path(j.path).name for j in jobs.values()} == {f"smithjohn_1000_52001_{A}.ipynb",
                                                          f"smithjohn_2000_52002_{A}.ipynb"}


def test_canvas_names_with_underscores_and_the_late_marker(tmp_path):
    jobs = jobs_by_student(touch(tmp_path, f"smith_john_1001_52003_{A}.ipynb", f"smith_jane_LATE_1002_52004_{A}.ipynb"))
    assert len(jobs) == 2
    by_name = {j.name: j for j in jobs.values()}
    assert set(by_name) == {"smith_john", "smith_jane"}
    assert by_name["smith_jane"].late and not by_name["smith_john"].late
    assert by_name["smith_jane"].lms_id == "1002"
    assert any("late" in note for note in by_name["smith_jane"].notes)


def test_plain_files_named_student_then_assignment(tmp_path):
    jobs = jobs_by_student(touch(tmp_path, f"smith_john_{A}.ipynb", f"smith_jane_{A}.ipynb"))
    assert set(jobs) == {"smith_john", "smith_jane"}


def test_canvas_resubmission_suffix_takes_the_latest_attachment(tmp_path):
    jobs = jobs_by_student(touch(tmp_path, f"smithjohn_1000_52001_{A}.ipynb", f"smithjohn_1000_53010_{A}-1.ipynb"))
    (job,) = jobs.values()
    assert Path(job.path).name == f"smithjohn_1000_53010_{A}-1.ipynb"
    assert any("2 notebooks" in note and "52001" in note for note in job.notes)


def test_blackboard_usernames_and_latest_attempt(tmp_path):
    touch(tmp_path, f"Homework 1_jdoe_attempt_2026-01-15-10-30-00_{A}.ipynb",
          f"Homework 1_jdoe_attempt_2026-01-16-09-00-00_{A}.ipynb",
          f"Homework 1_asmith_attempt_2026-01-15-11-00-00_{A}.ipynb",
          "Homework 1_jdoe_attempt_2026-01-15-10-30-00.txt", "Homework 1_asmith_attempt_2026-01-15-11-00-00.txt")
    jobs = jobs_by_student(tmp_path)
    assert set(jobs) == {"jdoe", "asmith"}, "the whole class collapsed into one student"
    assert jobs["jdoe"].lms == "blackboard" and jobs["jdoe"].lms_id == "jdoe"
    assert "2026-01-16-09-00-00" in jobs["jdoe"].path
    assert any("not graded" in note and "2026-01-15-10-30-00" in note for note in jobs["jdoe"].notes)
    assert not jobs["asmith"].notes


def test_moodle_files_and_folders_keep_the_full_name_and_participant_id(tmp_path):
    touch(tmp_path, f"Chloé Dupont_123458_assignsubmission_file_{A}.ipynb",
          f"Chloé Durand_123459_assignsubmission_file_/{A}.ipynb")
    jobs = jobs_by_student(tmp_path)
    by_name = {j.name: j for j in jobs.values()}
    assert set(by_name) == {"Chloé Dupont", "Chloé Durand"}
    assert by_name["Chloé Dupont"].lms_id == "123458" and by_name["Chloé Durand"].lms_id == "123459"
    assert by_name["Chloé Dupont"].student == "Chloe_Dupont-123458"
    assert all(j.lms == "moodle" and j.path for j in jobs.values())


def test_folder_names_that_normalise_alike_never_merge(tmp_path):
    touch(tmp_path, f"ann b/{A}.ipynb", f"ann_b/{A}.ipynb", f"ann-b/{A}.ipynb")
    jobs = jobs_by_student(tmp_path)
    assert len(jobs) == 3
    assert "ann_b" in jobs and Path(jobs["ann_b"].path).parent.name == "ann_b"
    assert {Path(j.path).parent.name for j in jobs.values()} == {"ann b", "ann_b", "ann-b"}
    renamed = [j for j in jobs.values() if j.student != "ann_b" and j.student != "ann-b"]
    assert renamed and all("ann b" in " ".join(j.notes) for j in renamed)
    assert find_jobs(tmp_path, [A]) == find_jobs(tmp_path, [A]), "not deterministic"


def test_a_flat_lms_folder_is_read_like_its_zip(tmp_path):
    flat = touch(tmp_path / "flat", f"smithjohn_1000_52001_{A}.ipynb", f"doejane_LATE_1003_52005_{A}.ipynb")
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in flat.iterdir():
            zf.write(path, path.name)
    unzipped = extract_zip(archive, tmp_path / "unzipped")

    def view(folder):
        return sorted((j.student, j.lms_id, j.late, Path(j.path).name) for j in find_jobs(folder, [A]).jobs)

    assert view(flat) == view(unzipped) and len(view(flat)) == 2


def test_a_student_without_the_notebook_is_reported(tmp_path):
    touch(tmp_path, f"alice/{A}.ipynb", "bob/homework.pdf")
    jobs = jobs_by_student(tmp_path)
    assert jobs["bob"].path is None and "no 01_mdps.ipynb found (found: homework.pdf)" in jobs["bob"].note


@pytest.mark.parametrize("content", [(), ("notes.txt",), ("alice/homework.pdf",)])
def test_no_notebook_at_all_is_an_error_that_says_what_was_expected(tmp_path, content, capsys):
    folder = touch(tmp_path / "subs", *content) if content else (tmp_path / "subs")
    folder.mkdir(exist_ok=True)
    with pytest.raises(NoSubmissions, match="Expected one folder per student"):
        require_notebooks(find_jobs(folder, [A]), folder, [A])
    assert main([str(folder), "--assignment", A, "--out", str(tmp_path / "out")]) != 0
    err = capsys.readouterr().err
    assert f"no notebook for {A}" in err and f"alice/{A}.ipynb" in err


def test_a_zip_that_wraps_the_lms_files_in_one_folder_is_not_one_student(tmp_path):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in (f"smithjohn_1000_52001_{A}.ipynb", f"doejane_1003_52005_{A}.ipynb"):
            zf.writestr(f"Homework 1 Download/{name}", '{"cells": []}' + name)
    jobs = jobs_by_student(extract_zip(archive, tmp_path / "unzipped"))
    assert {j.lms_id for j in jobs.values()} == {"1000", "1003"}


def test_one_student_in_nbgrader_layout_is_still_one_student(tmp_path):
    jobs = jobs_by_student(touch(tmp_path, f"alice/{A}/{A}.ipynb"))
    assert list(jobs) == ["alice"] and jobs["alice"].path
