"""``keep_freed_memory``: large blocks freed by one update are reused by the next without new page faults."""

import platform
import subprocess
import sys

import pytest

FAULTS_PER_ROUND = """
import resource, sys
import numpy as np
from reference_impl.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else False
def update():  # like an update: several batch-sized tensors alive at once, touched, then all freed
    blocks = [np.ones(2**20) for _ in range(4)]  # 4 x 8 MB
    return sum(block.sum() for block in blocks)
update()  # the first round faults its pages in, in either case
start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    update()
print(applied, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / 20)
"""


def faults_per_round(mode: str) -> tuple[bool, float]:
    out = subprocess.run([sys.executable, "-c", FAULTS_PER_ROUND, mode], capture_output=True, text=True, check=True)
    applied, faults = out.stdout.split()
    return applied == "True", float(faults)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt exists in glibc only; a no-op elsewhere")
def test_keep_freed_memory_stops_the_page_faults_of_a_repeated_large_allocation():
    applied, kept = faults_per_round("keep")
    default_applied, default = faults_per_round("default")
    assert applied and not default_applied
    assert default >= 1000  # glibc gives memory at the top of the heap back and faults it in again (2029 measured)
    assert kept <= 50


def test_keep_freed_memory_is_a_no_op_without_glibc(monkeypatch):
    from reference_impl import allocator

    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("", ""))
    assert allocator.keep_freed_memory() is False
