"""Smoke test of benchmarks/speed.py: its --quick path runs end to end for one tiny model.

No timing is asserted (speed lives in the benchmark's results); the test checks that the
report has the rows and columns it promises and that minidl's and PyTorch's outputs
agreed (speed.py asserts that itself before timing anything).
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.parity import require_torch

ROOT = Path(__file__).resolve().parents[2]
SPEED = ROOT / 'benchmarks' / 'speed.py'


def _rows(report, heading):
    """The table rows (lists of cells) of the section under ``heading``."""
    section = report.split(heading, 1)[1].split('\n## ', 1)[0]
    lines = [line for line in section.splitlines() if line.startswith('|')]
    header = [cell.strip() for cell in lines[0].strip('|').split('|')]
    rows = [[cell.strip() for cell in line.strip('|').split('|')] for line in lines[2:]]
    return header, rows


@pytest.fixture(scope='module')
def quick_report(tmp_path_factory):
    require_torch()
    out = tmp_path_factory.mktemp('speed') / 'quick.md'
    done = subprocess.run([sys.executable, str(SPEED), '--quick', '--models', 'lenet5',
                           '--out', str(out)], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return out.read_text(), json.loads(out.with_suffix('.json').read_text())


def test_report_describes_the_machine(quick_report):
    report, _ = quick_report
    for needle in ('CPU:', 'cores', 'NumPy', 'PyTorch', 'threads', 'date:'):
        assert needle in report


def test_step_table_has_one_row_per_model_and_outputs_agreed(quick_report):
    report, results = quick_report
    header, rows = _rows(report, '## One training step')
    assert header[:6] == ['model', 'network', 'batch, input', 'minidl step (ms)',
                          'PyTorch step (ms)', 'minidl / PyTorch']
    assert [r[0] for r in rows] == ['lenet5']
    (row,) = rows
    assert len(row) == len(header)
    assert row[header.index('outputs agree (max rel. diff)')].startswith('yes')
    step = results['steps']['lenet5']
    assert step['output_diff'] < 1e-3
    assert step['ratio'] == pytest.approx(step['minidl_s'] / step['torch_s'])
    assert float(row[header.index('minidl / PyTorch')]) == pytest.approx(step['ratio'], abs=0.01)


def test_layer_table_reports_rates_against_the_gemm_roofline(quick_report):
    report, results = quick_report
    assert 'GEMM rate' in report
    header, rows = _rows(report, '## ResNet-18')
    assert {'layer', 'minidl fwd+bwd GF/s', 'of GEMM rate', 'PyTorch fwd+bwd GF/s'} <= set(header)
    assert [r[0] for r in rows] == ['conv1', 'layer1.0.conv1']   # --quick: two layers
    assert results['layers']['gemm_gflops'] > 0
    for row in rows:   # printed with one decimal: a loaded machine may print 0.0
        assert float(row[header.index('minidl fwd+bwd GF/s')]) >= 0
    assert results['layers']['fractions'] and all(
        fraction > 0 for fraction in results['layers']['fractions'].values())


def test_memory_table_compares_peaks(quick_report):
    report, results = quick_report
    header, rows = _rows(report, '## Peak memory')
    assert header[0] == 'model' and 'minidl / PyTorch' in header
    assert [r[0] for r in rows] == ['lenet5']
    memory = results['memory']['lenet5']
    assert memory['minidl_bytes'] >= 0 and memory['torch_bytes'] >= 0  # RSS may reuse freed pages
    assert memory['traced_bytes'] > 0
