"""The sandboxed worker and its plain-data protocol, tested directly."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.course import REPO_ROOT
from autograder.sandbox import (
    BudgetExhausted,
    Limits,
    RemoteError,
    Worker,
    WorkerDied,
    WorkerTimeout,
    bubblewrap,
    protocol,
    student_call,
)

SANDBOXES = ["process"] + (["bubblewrap"] if bubblewrap() else [])
QUICK = Limits(cell_seconds=5, call_seconds=3, memory_bytes=2 * 2**30)

plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**62), 2**62) | st.floats(allow_nan=False) | st.text(max_size=5)
    | hnp.arrays(st.sampled_from([np.float64, np.int32, np.bool_]), hnp.array_shapes(max_dims=3, max_side=4)),
    lambda children: st.lists(children, max_size=3) | st.tuples(children, children)
    | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=8,
)


def same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(plain)
def test_protocol_round_trips_plain_data_exactly(value):
    assert same(protocol.decode(protocol.encode({"v": value}))["v"], value)


@pytest.mark.parametrize("value", [object(), np.array([object()], dtype=object), {1: 2}, np.array(["a"]),
                                   type("Sub", (np.ndarray,), {})((2,))])
def test_protocol_refuses_anything_but_plain_data(value):
    with pytest.raises(protocol.ProtocolError):
        protocol.encode({"v": value})


FRAMES = {
    "score table": pd.DataFrame({"iqm": [2.5, 1.0], "low": [1.0, np.nan], "rank": [1, 2], "best": [True, False]},
                                index=pd.Index(["sac", "deepmdp"], name="config")),
    "tidy frame": pd.DataFrame({"config": ["a", "b", "a"], "task": ["x", "x", "y"], "seed": [1, 1, 2],
                                "score": [0.1, -2.0, 1e300]}),
    "number labels": pd.DataFrame(np.arange(6, dtype=np.int32).reshape(2, 3), index=[10, 20]),
    "mixed column": pd.DataFrame({"v": [1, "a", None, 2.5]}),
    "no rows": pd.DataFrame({"iqm": np.zeros(0), "rank": np.zeros(0, dtype=np.int64)}),
    "no columns": pd.DataFrame(index=pd.Index(["a", "b"], name="config")),
}


@pytest.mark.parametrize("label", sorted(FRAMES))
def test_protocol_rebuilds_a_dataframe_from_its_parts(label):
    """A frame crosses as labels, columns and row labels, and is rebuilt as a new frame of equal content."""
    frame = FRAMES[label]
    got = protocol.decode(protocol.encode({"v": [frame, {"inner": frame}]}))["v"]
    for rebuilt in (got[0], got[1]["inner"]):
        assert type(rebuilt) is pd.DataFrame and rebuilt is not frame
        pd.testing.assert_frame_equal(rebuilt, frame, check_index_type=False, check_column_type=False)
        assert rebuilt.index.name == frame.index.name


class RiggedFrame(pd.DataFrame):
    def equals(self, other):
        return True


@pytest.mark.parametrize("value", [
    RiggedFrame({"a": [1.0]}),  # a subclass: its methods could lie about its parts
    pd.DataFrame({"a": [1.0]}, index=pd.MultiIndex.from_tuples([("x", 1)])),
    pd.DataFrame([[1.0]], columns=pd.MultiIndex.from_tuples([("iqm", "mean")])),
    pd.DataFrame({"when": pd.to_datetime(["2026-01-01"])}),
    pd.DataFrame({"o": [object()]}),
])
def test_protocol_refuses_frames_it_cannot_send_as_plain_parts(value):
    with pytest.raises(protocol.ProtocolError):
        protocol.encode({"v": value})


def test_a_frame_changed_in_place_is_reported():
    frame = FRAMES["tidy frame"].copy()

    def writes_a_score(frame):
        frame.loc[0, "score"] = 99.0
        return len(frame)

    def adds_a_column(frame):
        frame["rank"] = 1
        return 0

    def renames_the_rows(frame):
        frame.index.name = "run"
        return 0

    def reads_only(frame):
        return frame.groupby("config")["score"].mean().to_dict()

    for fn in (writes_a_score, adds_a_column, renames_the_rows):
        with pytest.raises(student_call.InputMutated, match="frame"):
            student_call.call(fn, {"frame": frame.copy()})
    assert student_call.call(reads_only, {"frame": frame}) == {"a": 0.5 * (0.1 + 1e300), "b": -2.0}


@pytest.fixture(params=SANDBOXES)
def worker(request, tmp_path):
    with Worker(tmp_path / "scratch", QUICK, sandbox=request.param) as w:
        yield w


def test_worker_runs_cells_and_answers_calls(worker):
    assert worker.exec_cell("import numpy as np\ndef double(x):\n    return 2 * x")["ok"]
    assert worker.names() == {"double": "callable"}
    np.testing.assert_array_equal(worker.call("double", (np.arange(3),), {}), [0, 2, 4])


def test_student_exceptions_come_back_with_their_type(worker):
    worker.exec_cell("def f():\n    raise ValueError('bad shape')")
    with pytest.raises(RemoteError, match="ValueError: bad shape") as error:
        worker.call("f", (), {})
    assert "<cell 1>" in error.value.student_traceback


def test_unplain_return_values_are_refused(worker):
    worker.exec_cell("class Eq:\n    def __eq__(self, o):\n        return True\ndef f():\n    return Eq()")
    with pytest.raises(RemoteError, match="UnsupportedValue"):
        worker.call("f", (), {})


def test_dataframes_cross_both_ways(worker):
    """A frame goes in as its parts, is rebuilt in the worker, and the frame returned is rebuilt here."""
    assert worker.exec_cell("import pandas as pd\ndef means(frame):\n"
                            "    return frame.groupby('config')[['score']].mean()\n"
                            "def write_in_place(frame):\n    frame.loc[0, 'score'] = 99.0")["ok"]
    got = worker.call("means", (), {"frame": FRAMES["tidy frame"]})
    expected = FRAMES["tidy frame"].groupby("config")[["score"]].mean()
    pd.testing.assert_frame_equal(got, expected, check_index_type=False)
    with pytest.raises(RemoteError, match="InputMutated"):
        worker.call("write_in_place", (), {"frame": FRAMES["tidy frame"]})


def test_reference_is_not_importable_and_checks_are_inert(worker):
    reply = worker.exec_cell("import reference_impl")
    assert not reply["ok"] and reply["type"] == "ModuleNotFoundError"
    assert worker.exec_cell("from autograder.checks.mdps import check_value_iteration as c\nr = c(None)")["ok"]


def test_infinite_loop_times_out_and_kills_the_worker(worker):
    worker.exec_cell("def spin():\n    while True:\n        pass")
    with pytest.raises(WorkerTimeout):
        worker.call("spin", (), {})
    assert not worker.alive


def test_os_exit_is_reported(worker):
    with pytest.raises(WorkerDied, match="exited with code 7"):
        worker.exec_cell("import os\nos._exit(7)")


def test_output_is_captured_and_capped(worker):
    reply = worker.exec_cell("print('x' * 10**7)")
    assert reply["ok"] and len(reply["output"]) < 100_000 and "dropped" in reply["output"]


def test_bubblewrap_hides_the_repository_and_the_network(tmp_path):
    assert bubblewrap(), "the test suite needs bubblewrap: `make setup` installs it as root, or apt-get install it"
    with Worker(tmp_path / "scratch", QUICK, sandbox="bubblewrap") as w:
        hidden = [str(REPO_ROOT / "solutions"), str(REPO_ROOT)]
        probe = (f"import os, socket\nrepo = any(os.path.exists(p) for p in {hidden!r})\n"
                 "try:\n    socket.create_connection(('127.0.0.1', 22), timeout=1)\n    net = True\n"
                 "except OSError:\n    net = False\nuid = os.getuid()\n")
        assert w.exec_cell(probe)["ok"]
        assert w.request({"op": "get", "name": "repo"}, 5)["value"] is False
        assert w.request({"op": "get", "name": "net"}, 5)["value"] is False
        assert w.request({"op": "get", "name": "uid"}, 5)["value"] not in (0, os.getuid())


def test_auto_prefers_bubblewrap(tmp_path):
    with Worker(tmp_path / "scratch", QUICK) as w:
        assert w.kind == ("bubblewrap" if bubblewrap() else "process")


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_gradients_are_computed_in_the_worker_and_only_data_returns(sandbox, tmp_path):
    import torch

    # Importing torch in a fresh worker can take a while on a loaded machine: generous limits here.
    worker = Worker(tmp_path / "scratch", Limits(cell_seconds=120, call_seconds=60), sandbox=sandbox)
    worker.exec_cell("import torch\ndef loss(x, y):\n    return ((x - y.detach()) ** 2).sum()")
    x, y = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])
    value, grads = worker.call("loss", (), {"x": x, "y": y}, tensors=True, grad_wrt=["x", "y"])
    assert isinstance(value, torch.Tensor) and value.item() == 5.0
    torch.testing.assert_close(grads["x"], 2 * x)
    assert grads["y"] is None
    worker.kill()


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_student_code_can_use_its_scratch_folder_and_torch_optimizers(sandbox, tmp_path):
    """HOME and TMPDIR are the scratch folder: temporary files and torch.optim (which needs one) work."""
    with Worker(tmp_path / "scratch", Limits(cell_seconds=60, memory_bytes=4 * 2**30), sandbox=sandbox) as w:
        reply = w.exec_cell("import tempfile, torch\nwith tempfile.NamedTemporaryFile() as f:\n    f.write(b'x')\n"
                            "w = torch.zeros(2, requires_grad=True)\nopt = torch.optim.SGD([w], lr=0.5)\n"
                            "(w - 1).pow(2).sum().backward()\nopt.step()\nstepped = w.tolist()\n")
        assert reply["ok"], reply
        assert w.request({"op": "get", "name": "stepped"}, 5)["value"] == [1.0, 1.0]


FILL_SCRATCH = ("import os\nwritten = 0\nfor i in range(12):\n"
                "    with open(os.path.join(os.environ['HOME'], f'block{i}'), 'wb') as f:\n"
                "        f.write(os.urandom(2**20) * 4)\n    written += 4\n")


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_the_scratch_folder_has_a_disk_quota(sandbox, tmp_path):
    """48 MiB written against a 16 MiB quota: refused (bubblewrap's tmpfs) or stopped (plain process)."""
    limits = Limits(cell_seconds=30, call_seconds=10, scratch_bytes=16 * 2**20)
    with Worker(tmp_path / "scratch", limits, sandbox=sandbox) as w:
        try:
            reply = w.exec_cell(FILL_SCRATCH)
            assert not reply["ok"] and "No space left" in reply["error"], reply
            assert w.request({"op": "get", "name": "written"}, 5)["value"] <= 16
        except WorkerDied as died:
            assert w.kind == "process" and "quota" in str(died)
        assert w.quota_hit


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_a_worker_stops_at_the_submission_time_budget(sandbox, tmp_path):
    with Worker(tmp_path / "scratch", Limits(cell_seconds=30, submission_seconds=3), sandbox=sandbox) as w:
        start = time.monotonic()
        with pytest.raises(BudgetExhausted, match="time budget of 3 s"):
            w.exec_cell("import time\ntime.sleep(20)")
        assert time.monotonic() - start < 10
    with pytest.raises(BudgetExhausted):  # a replacement worker gets no time past the same deadline
        Worker(tmp_path / "scratch2", Limits(), sandbox=sandbox, deadline=time.monotonic() - 1)


@pytest.mark.skipif(not bubblewrap(), reason="needs bubblewrap")
def test_without_sized_tmpfs_the_quota_is_measured_and_enforced(monkeypatch, tmp_path):
    """bubblewrap older than 0.5 has no --size: the scratch folder is bound from the host and measured instead."""
    from autograder.sandbox import launcher

    monkeypatch.setattr(launcher, "sized_tmpfs_supported", lambda: False)
    limits = Limits(cell_seconds=30, call_seconds=10, scratch_bytes=16 * 2**20)
    with Worker(tmp_path / "scratch", limits, sandbox="bubblewrap") as w:
        with pytest.raises(WorkerDied, match="over its 16 MiB quota"):
            w.exec_cell(FILL_SCRATCH)
        assert w.quota_hit
