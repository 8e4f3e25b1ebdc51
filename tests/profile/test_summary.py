"""summary(): MACs against published figures, attribution to modules, backward FLOPs
and bytes saved for backward."""
import json
from pathlib import Path

import numpy as np
import pytest

import minidl
import minidl.nn as nn
import minidl.nn.functional as F
from minidl import models
from minidl.profile import CONVENTIONS, summary, storage_of

pytestmark = pytest.mark.cpu_only

# shared/reference/ sits beside the project checkout
REFERENCE = Path(__file__).resolve().parents[3] / 'shared' / 'reference' / 'published.json'
PUBLISHED = json.loads(REFERENCE.read_text()) if REFERENCE.exists() else None


def published(section, name):
    if PUBLISHED is None:
        pytest.skip('shared/reference/published.json is not beside the project')
    entry = PUBLISHED[section]
    return entry if 'params' in entry else entry[name]


# ---------------------------------------------------------------- published figures

@pytest.mark.parametrize('name, section', [('resnet18', 'torchvision_224'),
                                           ('mobilenet_v1', 'mobilenet_v1')])
def test_macs_and_params_match_published_at_224(name, section):
    ref = published(section, name)
    model = models.get_model(name)
    s = summary(model, (1, 3, 224, 224))
    assert s.total_params == ref['params']
    assert s.total_macs == pytest.approx(ref['gmacs'] * 1e9, rel=0.01)


def test_alexnet_macs_match_torchvision_on_a_reduced_input():
    # AlexNet's convolutions on a 127x127 input end on 3x3 maps, which the adaptive
    # pooling repeats to 6x6: conv MACs shrink, the classifier's stay; check both parts
    model = models.alexnet()
    s = summary(model, (1, 3, 127, 127))
    linear = sum(r.macs for r in s.rows if r.type == 'Linear')
    assert linear == 9216 * 4096 + 4096 * 4096 + 4096 * 1000
    assert s.total_params == published('torchvision_224', 'alexnet')['params']


def test_inception_example_exact():
    ref = PUBLISHED['inception_bottleneck_example'] if PUBLISHED else None
    direct = summary(nn.Conv2d(100, 96, 5, padding=2), (1, 100, 28, 28))
    bottleneck = summary(nn.Sequential(nn.Conv2d(100, 64, 1), nn.Conv2d(64, 96, 5, padding=2)),
                         (1, 100, 28, 28))
    assert direct.total_macs == 188_160_000
    assert bottleneck.row('0').macs == 5_017_600
    assert bottleneck.row('1').macs == 120_422_400
    assert bottleneck.total_macs == 125_440_000
    if ref:
        assert direct.total_macs == ref['conv5x5_100_to_96_28x28_macs']
        assert bottleneck.total_macs == ref['with_bottleneck_total_macs']


# ---------------------------------------------------------------- attribution

class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1, bias=False)

    def forward(self, x):
        return x + self.conv(x)


def test_a_containers_own_ops_go_to_its_row():
    model = nn.Sequential(nn.Conv2d(3, 4, 1), Residual(), nn.Flatten(), nn.Linear(64, 2))
    s = summary(model, (2, 3, 4, 4))
    block = s.row('1')
    assert block.forward_flops == 2 * 4 * 4 * 4      # the residual add, one FLOP per element
    assert block.macs == 0
    assert s.row('1.conv').macs == 2 * 4 * 16 * 4 * 9
    assert s.row('1').output_shape == (2, 4, 4, 4)
    assert s.row('3').output_shape == (2, 2)
    assert s.total_macs == sum(r.macs for r in s.rows)
    assert s.total_params == sum(r.params for r in s.rows) == 3 * 4 + 4 + 144 + 64 * 2 + 2


def test_depth_folds_rows_and_keeps_totals():
    model = nn.Sequential(nn.Conv2d(3, 4, 1), Residual(), nn.Flatten(), nn.Linear(64, 2))
    full = summary(model, (2, 3, 4, 4), backward=True)
    folded = summary(model, (2, 3, 4, 4), backward=True, depth=1)
    assert [r.path for r in folded.rows] == ['', '0', '1', '2', '3']
    assert folded.row('1').macs == full.row('1.conv').macs
    for name in ('total_macs', 'forward_flops', 'backward_flops', 'saved_bytes', 'total_params'):
        assert getattr(folded, name) == getattr(full, name)


# ---------------------------------------------------------------- backward FLOPs

def _conv_row_after_a_layer(groups):
    # the 1x1 conv in front makes the second conv's input require a gradient
    model = nn.Sequential(nn.Conv2d(8, 8, 1, bias=False),
                          nn.Conv2d(8, 8, 3, padding=1, groups=groups, bias=False))
    return summary(model, (2, 8, 6, 6), backward=True).row('1')


def test_depthwise_backward_to_forward_ratio_equals_dense():
    dense, depthwise = _conv_row_after_a_layer(1), _conv_row_after_a_layer(8)
    assert depthwise.macs * 8 == dense.macs
    ratio = lambda r: r.backward_flops / r.forward_flops  # noqa: E731
    assert ratio(depthwise) == ratio(dense) == 2
    assert depthwise.backward_input_flops == depthwise.backward_weight_flops == 2 * depthwise.macs


def test_first_layer_computes_no_input_gradient():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))
    s = summary(model, (1, 3, 8, 8), backward=True)
    first, last = s.row('0'), s.row('2')
    assert first.backward_input_flops == 0
    assert first.backward_weight_flops == 2 * first.macs + first.macs // (3 * 9)  # + bias
    assert last.backward_input_flops == 2 * last.macs


def test_forward_only_counts_no_backward():
    s = summary(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), (1, 3, 8, 8))
    assert not s.backward
    assert s.backward_flops == 0 and s.saved_bytes == 0
    assert s.forward_flops == 2 * s.total_macs + 4 * 36 + 4 * 36   # bias adds + relu


# ---------------------------------------------------------------- saved bytes

def test_saved_bytes_of_a_tiny_net_by_hand():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, bias=False), nn.ReLU(), nn.Flatten(),
                          nn.Linear(32, 3))
    s = summary(model, (2, 1, 6, 6), backward=True)
    f32 = 4
    conv_in = 2 * 1 * 6 * 6 * f32            # the conv keeps its input for dW (not the
    relu_out = 2 * 2 * 4 * 4 * f32           # 9x larger columns); the weight is a
    assert s.row('0').saved_bytes == conv_in  # parameter: not counted
    assert s.row('1').saved_bytes == relu_out
    # flatten saves nothing; the linear keeps its input, a view of the ReLU output
    # (already counted), and its weight (a parameter)
    assert s.row('2').saved_bytes == s.row('3').saved_bytes == 0
    assert s.saved_bytes == conv_in + relu_out
    assert s.input_saved


def test_saved_bytes_include_a_saved_input_once():
    model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
    s = summary(model, (4, 10), backward=True)
    assert s.input_saved
    assert s.saved_bytes == 4 * 10 * 4 + 4 * 20 * 4


def test_storage_of_sees_through_views():
    base = np.zeros((4, 6), np.float32)
    strided = np.lib.stride_tricks.as_strided(base, (2, 2), (24, 4))
    assert storage_of(base.reshape(24))[0] == storage_of(base[1:, ::2])[0] == \
        storage_of(strided)[0] == storage_of(base)[0]
    assert storage_of(base.T)[1] == 96
    assert storage_of(base.copy())[0] != storage_of(base)[0]


def test_summary_leaves_no_gradients_and_removes_its_hooks():
    model = nn.Sequential(nn.Linear(3, 2))
    summary(model, (2, 3), backward=True)
    assert all(p.grad is None for p in model.parameters())
    assert not minidl.autograd._apply_hooks   # the profiler's hook handle was removed
    x = minidl.randn(2, 3)
    model(x)  # no hook left to fail or count


# ---------------------------------------------------------------- the table

def test_str_is_a_table_with_the_conventions():
    s = summary(models.lenet5(num_classes=10), (2, 1, 28, 28), backward=True)
    text = str(s)
    assert CONVENTIONS in text
    assert 'Conv2d' in text and 'Linear' in text and 'Bwd dW FLOPs' in text
    assert f'{s.total_params:,}' in text
    assert s.total_params == 61_706
    assert s.total_macs == 2 * (6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84
                                + 84 * 10)


def test_batch_dim_inserts_a_batch_of_one():
    s = summary(nn.Linear(5, 3), (5,), batch_dim=0)
    assert s.input_shapes == [(1, 5)]
    assert s.rows[0].output_shape == (1, 3)
