"""interpolate: gradcheck in float64, PyTorch parity in every mode, argument checks."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
import minidl.functional as F
from tests.parity import check_gradients, check_torch_parity, require_torch

FAST = settings(max_examples=20, deadline=None)
_DIMS = {'linear': 1, 'bilinear': 2, 'trilinear': 3}


@FAST
@given(mode=st.sampled_from(['nearest', 'nearest-exact', 'linear', 'bilinear', 'trilinear']),
       data=st.data())
def test_interpolate(mode, data):
    torch = require_torch()
    dims = _DIMS.get(mode) or data.draw(st.integers(1, 3))
    spatial = data.draw(st.lists(st.integers(1, 5), min_size=dims, max_size=dims))
    shape = [data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))] + spatial
    kwargs = dict(mode=mode)
    if data.draw(st.booleans()):
        kwargs['size'] = data.draw(st.lists(st.integers(1, 8), min_size=dims, max_size=dims))
    else:
        kwargs['scale_factor'] = data.draw(st.sampled_from([2, 3, 0.5, 1.5, 1.7, (2, 0.75, 1)[:dims]
                                                            if dims > 1 else 2.5]))
        if any(np.floor(np.multiply(spatial, kwargs['scale_factor'])) < 1):
            kwargs['scale_factor'] = 2
        kwargs['recompute_scale_factor'] = data.draw(st.sampled_from([None, True]))
    if mode in _DIMS:
        kwargs['align_corners'] = data.draw(st.booleans())
    x = np.random.default_rng(0).standard_normal(shape)
    check_gradients(F.interpolate, [x], **kwargs)
    check_torch_parity(F.interpolate, torch.nn.functional.interpolate, [x], **kwargs)


def test_interpolate_large_images_match_pytorch_in_float32():
    """Downsampling by a non-integer factor: the source positions are computed as
    PyTorch's kernel computes them (a fused multiply-add in float32)."""
    torch = require_torch()
    x = np.random.default_rng(1).standard_normal((1, 2, 345, 97))
    for kwargs in (dict(size=(270, 130), mode='bilinear'), dict(scale_factor=0.77, mode='nearest'),
                   dict(size=(270, 130), mode='bilinear', align_corners=True)):
        check_torch_parity(F.interpolate, torch.nn.functional.interpolate, [x], **kwargs)


@pytest.mark.filterwarnings("ignore:.*is deprecated")
def test_upsample_aliases_and_integer_input():
    torch = require_torch()
    x = np.random.default_rng(2).standard_normal((1, 1, 3, 4))
    check_torch_parity(F.upsample_bilinear, torch.nn.functional.upsample_bilinear, [x],
                       scale_factor=2)
    check_torch_parity(F.upsample_nearest, torch.nn.functional.upsample_nearest, [x], size=(5, 7))
    image = np.arange(12, dtype=np.uint8).reshape(1, 1, 3, 4)
    np.testing.assert_array_equal(
        F.interpolate(minidl.tensor(image), scale_factor=2).numpy(),
        torch.nn.functional.interpolate(torch.tensor(image), scale_factor=2).numpy())


def test_interpolate_errors():
    x = minidl.zeros(1, 1, 3, 3)
    with pytest.raises(ValueError, match='either size or scale_factor should be defined'):
        F.interpolate(x)
    with pytest.raises(ValueError, match='only one of size or scale_factor'):
        F.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match='align_corners option can only be set with the '
                                         'interpolating modes'):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(NotImplementedError, match='got 4D input, but linear mode needs 3D input'):
        F.interpolate(x, scale_factor=2, mode='linear')
    with pytest.raises(NotImplementedError, match="mode='bicubic' is not supported by minidl"):
        F.interpolate(x, scale_factor=2, mode='bicubic')
    with pytest.raises(ValueError, match=r'the input has 2 spatial dimensions \[3, 3\], size '
                                         r'has 3'):
        F.interpolate(x, size=(2, 3, 4))
    with pytest.raises(NotImplementedError, match='only 3D, 4D and 5D input'):
        F.interpolate(minidl.zeros(3, 3), scale_factor=2)
