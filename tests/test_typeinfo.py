"""finfo and iinfo against PyTorch's."""
import pytest

import minidl
from tests.parity import require_torch


@pytest.mark.parametrize('name', ['float16', 'float32', 'float64'])
def test_finfo_matches_torch(name):
    torch = require_torch()
    ours, theirs = minidl.finfo(getattr(minidl, name)), torch.finfo(getattr(torch, name))
    for attribute in ('bits', 'eps', 'max', 'min', 'tiny', 'smallest_normal', 'resolution',
                      'dtype'):
        assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
    assert repr(ours) == repr(theirs) and type(ours.eps) is float


@pytest.mark.parametrize('name', ['uint8', 'int8', 'int16', 'int32', 'int64'])
def test_iinfo_matches_torch(name):
    torch = require_torch()
    ours, theirs = minidl.iinfo(getattr(minidl, name)), torch.iinfo(getattr(torch, name))
    assert (ours.bits, ours.max, ours.min, ours.dtype) == (theirs.bits, theirs.max, theirs.min,
                                                           theirs.dtype)
    assert repr(ours) == repr(theirs)


def test_defaults_and_errors():
    assert minidl.finfo().dtype == 'float32'
    with pytest.raises(TypeError, match='finfo: int64 is not a floating-point dtype'):
        minidl.finfo(minidl.int64)
    with pytest.raises(TypeError, match='iinfo: float32 is not an integer dtype'):
        minidl.iinfo(minidl.float32)
