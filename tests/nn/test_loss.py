"""Loss layers against torch.nn: reductions, class weights, ignore_index, smoothing."""
import numpy as np
import pytest

import minidl
import minidl.nn as nn
from tests.nn.common import compare_with_torch
from tests.parity import require_torch


def class_problem(rng, shape=(6, 4)):
    logits = rng.standard_normal(shape) * 2
    target = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    target.flat[1] = -100 if target.size > 1 else target.flat[1]
    return logits, target


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
@pytest.mark.parametrize('weighted', [False, True])
@pytest.mark.parametrize('smoothing', [0.0, 0.2])
def test_cross_entropy_loss_matches_torch(reduction, weighted, smoothing):
    torch = require_torch()
    rng = np.random.default_rng(0)
    logits, target = class_problem(rng, (5, 4, 3))
    w = rng.random(4) + 0.5 if weighted else None
    for dtype in (np.float32, np.float64):
        ours = nn.CrossEntropyLoss(weight=None if w is None else minidl.tensor(w.astype(dtype)),
                                   reduction=reduction, label_smoothing=smoothing)
        theirs = torch.nn.CrossEntropyLoss(weight=None if w is None else torch.tensor(w.astype(dtype)),
                                           reduction=reduction, label_smoothing=smoothing)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        compare_with_torch(ours, theirs, [logits, target], dtype=dtype)


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_nll_and_mse_losses_match_torch(reduction):
    torch = require_torch()
    rng = np.random.default_rng(1)
    logits, target = class_problem(rng)
    log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    w = rng.random(4) + 0.5
    for dtype in (np.float32, np.float64):
        compare_with_torch(nn.NLLLoss(minidl.tensor(w.astype(dtype)), reduction=reduction),
                           torch.nn.NLLLoss(torch.tensor(w.astype(dtype)), reduction=reduction),
                           [log_probs, target], dtype=dtype)
        compare_with_torch(nn.MSELoss(reduction=reduction), torch.nn.MSELoss(reduction=reduction),
                           [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))], dtype=dtype)


def test_loss_positional_arguments_and_legacy_reduction():
    torch = require_torch()
    rng = np.random.default_rng(2)
    logits, target = class_problem(rng)
    target[target == -100] = 2
    # PyTorch's positional order: weight, size_average, ignore_index
    ours = nn.CrossEntropyLoss(None, None, 2)
    theirs = torch.nn.CrossEntropyLoss(None, None, 2)
    compare_with_torch(ours, theirs, [logits, target])
    with pytest.warns(UserWarning, match='size_average and reduce'):
        assert nn.MSELoss(size_average=False).reduction == 'sum'
    with pytest.warns(UserWarning):
        assert nn.NLLLoss(reduce=False).reduction == 'none'
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none'"):
        nn.MSELoss(reduction='avg')


def test_loss_weight_is_a_buffer_that_moves():
    loss = nn.CrossEntropyLoss(weight=minidl.ones(3))
    assert [n for n, _ in loss.named_buffers()] == ['weight']
    loss.double()
    assert loss.weight.dtype == np.float64
    with pytest.raises(TypeError, match='weight must be a minidl Tensor'):
        nn.NLLLoss(weight=np.ones(3))
    with pytest.raises(IndexError, match=r'^CrossEntropyLoss: cross_entropy: target 5 is out of range'):
        nn.CrossEntropyLoss()(minidl.zeros(2, 3), minidl.tensor([0, 5]))


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_binary_cross_entropy_losses_match_torch(reduction):
    torch = require_torch()
    rng = np.random.default_rng(3)
    logits, target = rng.standard_normal((4, 3)) * 2, rng.integers(0, 2, (4, 3)) * 1.0
    probs = 1 / (1 + np.exp(-logits))
    w, pos = rng.random(3) + 0.5, rng.random(3) + 0.5
    for dtype in (np.float32, np.float64):
        t = {name: (minidl.tensor(v.astype(dtype)), torch.tensor(v.astype(dtype)))
             for name, v in (('w', w), ('pos', pos))}
        compare_with_torch(nn.BCELoss(t['w'][0], reduction=reduction),
                           torch.nn.BCELoss(t['w'][1], reduction=reduction),
                           [probs, target], dtype=dtype)
        ours = nn.BCEWithLogitsLoss(t['w'][0], reduction=reduction, pos_weight=t['pos'][0])
        theirs = torch.nn.BCEWithLogitsLoss(t['w'][1], reduction=reduction, pos_weight=t['pos'][1])
        assert list(ours.state_dict()) == list(theirs.state_dict()) == ['weight', 'pos_weight']
        assert repr(ours) == repr(theirs)
        compare_with_torch(ours, theirs, [logits, target], dtype=dtype)
    with pytest.raises(TypeError, match='BCEWithLogitsLoss: pos_weight must be a minidl Tensor'):
        nn.BCEWithLogitsLoss(pos_weight=np.ones(3))
