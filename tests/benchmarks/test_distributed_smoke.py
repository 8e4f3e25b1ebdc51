"""Smoke test of benchmarks/distributed.py: its cost model, and one short run of each
set-up (no timing is asserted: speed lives in the benchmark's results)."""
import importlib.util
from pathlib import Path

import pytest

from tests import mpi_job

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def bench():
    spec = importlib.util.spec_from_file_location('distributed_benchmark',
                                                  ROOT / 'benchmarks' / 'distributed.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ring_sends_2_n_minus_1_over_n_of_the_gradient(bench):
    assert bench.ring_bytes_per_rank(1000, 1) == 0
    assert bench.ring_bytes_per_rank(1000, 2) == 1000
    assert bench.ring_bytes_per_rank(1000, 8) == 1750
    lines = bench.predictions()
    assert len(lines) == 2 + 4
    assert lines[2].startswith('| resnet18 | 11,689,512 | 46.8 MB | 8 | 81.8 MB | 65.5 ms | 6.5 ms')
    assert lines[5].startswith('| resnet50 | 25,557,032 | 102.2 MB | 64 | 201.3 MB | 161.0 ms')


def test_each_setup_runs_and_reports(bench, monkeypatch):
    mpi_job._require_mpi()
    monkeypatch.setitem(bench.STEPS, 'lenet5_bn', 1)
    rows = bench.measure(['lenet5_bn'], repeats=1)
    report = bench.report(rows, 1)
    table = [line for line in report.splitlines() if line.startswith('| lenet5_bn')]
    assert [row.split('|')[3].strip() for row in table] == [s[2] for s in bench.SETUPS]
    assert '(1 bucket)' in table[1]
