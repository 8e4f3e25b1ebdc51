"""nn.init: PyTorch's gains, fans and distributions, drawn from minidl's seeded generator."""
import math

import numpy as np
import pytest
from scipy import stats

import minidl
import minidl.nn as nn
from minidl.nn import init
from tests import parity
from tests.parity import require_torch

SHAPE = (256, 64, 3, 3)        # fan_in 576, fan_out 2304; 147456 draws


def fresh(shape=SHAPE, dtype=minidl.float32):
    return minidl.empty(*shape, dtype=dtype, device=parity.DEVICE)


@pytest.mark.parametrize('nonlinearity, param', [('linear', None), ('conv2d', None),
                                                 ('sigmoid', None), ('tanh', None),
                                                 ('relu', None), ('leaky_relu', None),
                                                 ('leaky_relu', 0.2), ('leaky_relu', 3),
                                                 ('selu', None)])
def test_calculate_gain_matches_torch(nonlinearity, param):
    torch = require_torch()
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15)


def test_gain_and_fan_errors():
    with pytest.raises(ValueError, match='unsupported nonlinearity'):
        init.calculate_gain('swish')
    with pytest.raises(ValueError, match='not a valid number'):
        init.calculate_gain('leaky_relu', True)
    with pytest.raises(ValueError, match='fewer than 2 dimensions'):
        init.kaiming_uniform_(minidl.empty(3))
    with pytest.raises(ValueError, match='Mode fan_avg not supported'):
        init.kaiming_normal_(minidl.empty(3, 3), mode='fan_avg')


@pytest.mark.parametrize('shape', [(3, 5), (4, 2, 3, 3), (6, 1, 5, 1), (2, 3, 4)])
def test_fans_match_torch(shape):
    torch = require_torch()
    assert (init._calculate_fan_in_and_fan_out(minidl.empty(*shape))
            == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape)))


def uniform_bound(kind, **kw):
    fan_in, fan_out = 576, 2304
    if kind == 'kaiming_uniform_':
        fan = fan_in if kw.get('mode', 'fan_in') == 'fan_in' else fan_out
        gain = init.calculate_gain(kw.get('nonlinearity', 'leaky_relu'), kw.get('a', 0))
        return math.sqrt(3.0) * gain / math.sqrt(fan)
    return kw.get('gain', 1.0) * math.sqrt(6.0 / (fan_in + fan_out))


@pytest.mark.parametrize('kind, kw', [('kaiming_uniform_', {}),
                                      ('kaiming_uniform_', {'a': math.sqrt(5)}),
                                      ('kaiming_uniform_', {'mode': 'fan_out',
                                                            'nonlinearity': 'relu'}),
                                      ('xavier_uniform_', {'gain': 2.0})])
def test_uniform_initialisers_have_torch_bounds(kind, kw):
    t = getattr(init, kind)(fresh(), **kw)
    bound = uniform_bound(kind, **kw)
    values = t.numpy().astype(np.float64)
    assert np.abs(values).max() <= bound * (1 + 1e-6)
    assert np.abs(values).max() > 0.999 * bound        # the whole range is used
    assert abs(values.mean()) < 0.01 * bound
    assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)


@pytest.mark.parametrize('kind, kw, std', [
    ('kaiming_normal_', {}, math.sqrt(2.0 / (1 + 0.01 ** 2)) / math.sqrt(576)),
    ('kaiming_normal_', {'mode': 'fan_out', 'nonlinearity': 'relu'}, math.sqrt(2.0 / 2304)),
    ('xavier_normal_', {'gain': 0.5}, 0.5 * math.sqrt(2.0 / (576 + 2304))),
    ('normal_', {'mean': 0.3, 'std': 0.01}, 0.01)])
def test_normal_initialisers_have_torch_std(kind, kw, std):
    values = getattr(init, kind)(fresh(), **kw).numpy().astype(np.float64)
    assert values.mean() == pytest.approx(kw.get('mean', 0.0), abs=0.01 * std)
    assert values.std() == pytest.approx(std, rel=0.01)
    assert stats.kstest((values.ravel()[:20000] - kw.get('mean', 0.0)) / std, 'norm').pvalue > 1e-3


@pytest.mark.parametrize('mean, std, a, b', [(0.0, 0.01, -2.0, 2.0), (0.0, 1.0, -2.0, 2.0),
                                             (1.0, 2.0, 0.0, 5.0)])
def test_trunc_normal_is_the_truncated_distribution(mean, std, a, b):
    values = init.trunc_normal_(fresh(), mean, std, a, b).numpy().astype(np.float64)
    assert values.min() >= a and values.max() <= b
    dist = stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    assert values.mean() == pytest.approx(dist.mean(), abs=0.01 * std)
    assert values.std() == pytest.approx(dist.std(), rel=0.01)
    assert stats.kstest(values.ravel()[:20000], dist.cdf).pvalue > 1e-3


def test_uniform_constant_and_friends():
    t = init.uniform_(fresh((1000,)), -3.0, -1.0).numpy()
    assert t.min() >= -3.0 and t.max() < -1.0 and t.dtype == np.float32
    assert (init.constant_(fresh((2, 2)), 0.5).numpy() == 0.5).all()
    assert (init.zeros_(fresh((2, 2))).numpy() == 0).all()
    assert (init.ones_(fresh((2, 2))).numpy() == 1).all()
    np.testing.assert_array_equal(init.eye_(fresh((2, 3))).numpy(), np.eye(2, 3))


def test_initialisers_are_seeded_keep_dtype_and_work_on_parameters():
    p = nn.Parameter(minidl.empty(5, 4, dtype=minidl.float64))
    minidl.manual_seed(11)
    first = init.kaiming_uniform_(p).numpy()
    assert p.dtype == np.float64 and p.requires_grad and p.is_leaf and p.grad_fn is None
    minidl.manual_seed(11)
    np.testing.assert_array_equal(init.kaiming_uniform_(p).numpy(), first)
    assert not np.array_equal(init.kaiming_uniform_(p).numpy(), first)
    with pytest.warns(UserWarning, match='zero-element'):
        init.kaiming_normal_(minidl.empty(0, 3))


def test_deprecated_names_warn_and_do_the_same():
    import warnings
    from minidl.nn import init
    for old, new, args in [('normal', 'normal_', (0.0, 1.0)), ('uniform', 'uniform_', ()),
                           ('constant', 'constant_', (0.5,)), ('xavier_uniform', 'xavier_uniform_', ()),
                           ('xavier_normal', 'xavier_normal_', ()), ('kaiming_normal', 'kaiming_normal_', ()),
                           ('kaiming_uniform', 'kaiming_uniform_', ()), ('eye', 'eye_', ()),
                           ('orthogonal', 'orthogonal_', ())]:
        a, b = minidl.empty(4, 3), minidl.empty(4, 3)
        minidl.manual_seed(7)
        with pytest.warns(FutureWarning, match=f'`nn.init.{old}` is now deprecated in favor of '
                                               f'`nn.init.{new}`'):
            assert getattr(init, old)(a, *args) is a
        minidl.manual_seed(7)
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            getattr(init, new)(b, *args)
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize('shape', [(3, 5), (5, 3), (4, 2, 3, 3)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    from minidl.nn import init
    w = init.orthogonal_(minidl.empty(*shape, dtype=minidl.float64), gain=2.0).numpy()
    flat = w.reshape(shape[0], -1) / 2.0
    small = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(small, np.eye(small.shape[0]), atol=1e-12)
