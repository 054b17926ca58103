"""The bf16 learning check on the committed logs: its verdict, and that it refuses what is not a check."""

import json
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import bf16_learning_check  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"


def test_the_committed_bf16_runs_pass_the_check(tmp_path):
    """Five paired seeds; the bf16 IQM inside the fp32 interval, as the README states (the verdict is recomputed)."""
    output = tmp_path / "check.json"
    code = bf16_learning_check.main(["--fp32", str(RESULTS / "switch_sweep"), "--bf16", str(RESULTS / "bf16_sweep"),
                                     "--output", str(output)])
    result = json.loads(output.read_text())
    assert code == 0 and result["bf16_iqm_within_fp32_ci"] and result["enough_seeds"]
    assert result["seeds"] == [1, 2, 3, 4, 5] and result["env_step"] == 3000
    low, high = result["ci"]["fp32"]
    assert low <= result["iqm"]["bf16"] <= high
    assert result == json.loads((RESULTS / "bf16_learning_check.json").read_text())  # the committed verdict


def test_fewer_than_five_paired_seeds_is_not_a_check(tmp_path):
    bf16 = tmp_path / "bf16"
    bf16.mkdir()
    for seed in (1, 2):
        shutil.copytree(RESULTS / "bf16_sweep" / f"ours_seed{seed}", bf16 / f"ours_seed{seed}")
    code = bf16_learning_check.main(["--fp32", str(RESULTS / "switch_sweep"), "--bf16", str(bf16),
                                     "--output", str(tmp_path / "check.json")])
    assert code == 1 and not json.loads((tmp_path / "check.json").read_text())["enough_seeds"]


def test_a_folder_without_bf16_runs_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no bf16 runs"):
        bf16_learning_check.main(["--fp32", str(RESULTS / "switch_sweep"), "--bf16", str(RESULTS / "switch_sweep"),
                                  "--output", str(tmp_path / "check.json")])
