"""Sequential, ModuleList, ModuleDict: indexing, editing, naming and repr as torch.nn."""
from collections import OrderedDict

import numpy as np
import pytest

import minidl
import minidl.nn as nn
from tests.nn.common import assert_same_state_layout, compare_with_torch
from tests.parity import require_torch


def stack(nn):
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2))


def test_sequential_runs_in_order_like_torch():
    torch = require_torch()
    x = np.random.default_rng(0).standard_normal((5, 3))
    compare_with_torch(stack(nn), stack(torch.nn), [x])


def test_sequential_indexing_slicing_and_iteration():
    seq = stack(nn)
    assert len(seq) == 5
    assert isinstance(seq[0], nn.Linear) and seq[-1] is seq[4]
    part = seq[1:4]
    assert isinstance(part, nn.Sequential) and list(part._modules) == ['1', '2', '3']
    assert part[0] is seq[1]
    assert [type(m).__name__ for m in seq] == ['Linear', 'ReLU', 'Linear', 'Tanh', 'Linear']
    with pytest.raises(IndexError, match='index 5 is out of range for 5 modules'):
        seq[5]
    seq[1] = nn.Sigmoid()
    assert list(seq._modules) == ['0', '1', '2', '3', '4'] and isinstance(seq[1], nn.Sigmoid)


def test_sequential_editing_renumbers_like_torch():
    torch = require_torch()
    ours, theirs = stack(nn), stack(torch.nn)
    del ours[1]
    del theirs[1]
    ours.append(nn.Linear(2, 2))
    theirs.append(torch.nn.Linear(2, 2))
    ours.insert(0, nn.Identity())
    theirs.insert(0, torch.nn.Identity())
    assert_same_state_layout(ours, theirs)
    assert repr(ours) == repr(theirs)


@pytest.mark.cpu_only  # names and a host-side string; reprs change between PyTorch releases
def test_sequential_from_ordered_dict_keeps_names():
    torch = require_torch()
    ours = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 2, 3), bn=nn.BatchNorm2d(2),
                                     relu=nn.ReLU()))
    theirs = torch.nn.Sequential(OrderedDict(conv=torch.nn.Conv2d(1, 2, 3),
                                             bn=torch.nn.BatchNorm2d(2), relu=torch.nn.ReLU()))
    assert_same_state_layout(ours, theirs)
    assert ours.conv is ours[0]
    assert repr(ours) == repr(theirs)


def test_module_list_and_its_compressed_repr():
    torch = require_torch()

    def build(nn):
        layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
        layers.append(nn.ReLU())
        layers.extend([nn.Linear(2, 3), nn.Linear(2, 3)])
        layers += [nn.Tanh()]
        layers.insert(1, nn.Sigmoid())
        return layers
    ours, theirs = build(nn), build(torch.nn)
    assert repr(ours) == repr(theirs)
    assert_same_state_layout(ours, theirs)
    assert len(ours) == 8 and isinstance(ours[-1], nn.Tanh)
    assert isinstance(ours[2:4], nn.ModuleList) and ours[2:4][0] is ours[2]
    del ours[0]
    del theirs[0]
    assert list(ours._modules) == list(theirs._modules)
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList()) == 'ModuleList()'
    with pytest.raises(TypeError, match='iterable of modules'):
        nn.ModuleList().extend(nn.Linear(1, 1))


def test_module_dict():
    torch = require_torch()
    ours = nn.ModuleDict({'a': nn.Linear(2, 3), 'b': nn.ReLU()})
    theirs = torch.nn.ModuleDict({'a': torch.nn.Linear(2, 3), 'b': torch.nn.ReLU()})
    ours['c'] = nn.Linear(3, 1)
    theirs['c'] = torch.nn.Linear(3, 1)
    assert_same_state_layout(ours, theirs)
    assert repr(ours) == repr(theirs)
    assert list(ours) == ['a', 'b', 'c'] and 'b' in ours and len(ours) == 3
    assert list(ours.keys()) == ['a', 'b', 'c']
    assert ours.pop('b') is not None and list(ours) == ['a', 'c']
    ours.update([('d', nn.Tanh())])
    assert list(ours) == ['a', 'c', 'd']
    x = minidl.ones(1, 2)
    assert ours['c'](ours['a'](x)).shape == (1, 1)
    ours.clear()
    assert len(ours) == 0
