"""matmul, mm, bmm, linear: gradcheck in float64, PyTorch parity, costs, errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
import minidl.functional as F
from minidl.functional.linalg import Linear, MatMul
from tests.parity import check_gradients, check_torch_parity, on_device, require_torch

FAST = settings(max_examples=25, deadline=None)
size = st.integers(1, 4)


@st.composite
def matmul_shapes(draw):
    """Shapes of a valid matmul: 1-D or 2-D operands, or batches whose batch
    dimensions broadcast (some set to 1, some missing)."""
    m, k, n = draw(size), draw(size), draw(size)
    batch = draw(st.lists(st.integers(1, 3), max_size=2))

    def operand(rows_cols, vector):
        if draw(st.booleans()) and vector is not None:
            return vector
        own = [b if draw(st.booleans()) else 1 for b in batch]
        own = own[draw(st.integers(0, len(own))):]  # drop some leading batch dims
        return tuple(own) + rows_cols

    return operand((m, k), (k,)), operand((k, n), (k,))


def _draw(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


@FAST
@given(shapes=matmul_shapes(), seed=st.integers(0, 2**16))
def test_matmul(shapes, seed):
    torch = require_torch()
    a, b = _draw(shapes[0], seed), _draw(shapes[1], seed + 1)
    check_gradients(F.matmul, [a, b])
    check_torch_parity(F.matmul, torch.matmul, [a, b])
    check_torch_parity(lambda x, y: x @ y, lambda x, y: x @ y, [a, b], requires_grad=[False, True])


def test_matmul_non_contiguous_and_methods():
    torch = require_torch()
    a = _draw((4, 3), 0).T          # (3, 4), F-ordered
    b = _draw((2, 5, 4), 1).transpose(0, 2, 1)
    check_torch_parity(lambda x, y: x.matmul(y), lambda x, y: x.matmul(y), [a, b])
    check_torch_parity(F.mm, torch.mm, [a, _draw((4, 2), 2)])
    check_torch_parity(F.bmm, torch.bmm, [_draw((2, 3, 4), 3), b])


def test_zero_size_inner_dimension():
    """An empty inner dimension gives a zero product and empty gradients."""
    torch = require_torch()
    for sa, sb in (((5, 5, 0), (0, 5)), ((0, 5), (5, 5, 0)), ((3, 0), (0, 4)), ((0,), (0,)),
                   ((2, 3, 0), (2, 0, 4))):
        check_torch_parity(F.matmul, torch.matmul, [np.ones(sa), np.ones(sb)])
    check_torch_parity(F.linear, torch.nn.functional.linear, [np.ones((2, 3, 0)), np.ones((4, 0)),
                                                               np.ones(4)])


def test_matmul_cost_counts_macs():
    a = minidl.tensor(on_device(np.zeros((5, 2, 3))), requires_grad=True)
    b = minidl.tensor(on_device(np.zeros((3, 4))))
    out = F.matmul(a, b)
    cost = MatMul.cost(out.grad_fn.ctx, [a.array, b.array], [out.array])
    assert cost.macs == 5 * 2 * 4 * 3
    assert cost.forward_flops == 2 * cost.macs
    assert cost.backward_input_flops == 2 * cost.macs  # only a needs a gradient


@FAST
@given(batch=st.lists(size, max_size=2).map(tuple), features=st.tuples(size, size),
       bias=st.booleans(), seed=st.integers(0, 2**16))
def test_linear(batch, features, bias, seed):
    torch = require_torch()
    in_features, out_features = features
    arrays = [_draw(batch + (in_features,), seed), _draw((out_features, in_features), seed + 1)]
    if bias:
        arrays.append(_draw((out_features,), seed + 2))
    check_gradients(F.linear, arrays)
    check_torch_parity(F.linear, torch.nn.functional.linear, arrays)


def test_linear_only_weight_needs_grad():
    torch = require_torch()
    arrays = [_draw((3, 4), 0).T, _draw((2, 3), 1), _draw((2,), 2)]
    check_torch_parity(F.linear, torch.nn.functional.linear, arrays, requires_grad=[False, True, True])
    check_gradients(F.linear, arrays, requires_grad=[False, True, False])


def test_linear_cost_splits_input_and_weight_gradients():
    x = minidl.tensor(on_device(np.zeros((8, 5))))
    w = minidl.tensor(on_device(np.zeros((3, 5))), requires_grad=True)
    b = minidl.tensor(on_device(np.zeros(3)), requires_grad=True)
    out = F.linear(x, w, b)
    cost = Linear.cost(out.grad_fn.ctx, [x.array, w.array, b.array], [out.array])
    macs = 8 * 5 * 3
    assert cost.macs == macs
    assert cost.forward_flops == 2 * macs + 8 * 3
    assert cost.backward_input_flops == 0          # x needs no gradient
    assert cost.backward_weight_flops == 2 * macs + 8 * 3


def test_float32_stays_float32():
    x = minidl.tensor(on_device(_draw((2, 3), 0).astype(np.float32)), requires_grad=True)
    w = minidl.tensor(on_device(_draw((4, 3), 1).astype(np.float32)), requires_grad=True)
    out = F.linear(x, w) + F.matmul(x, w.T).sum()
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_matmul_errors_name_the_shapes():
    def t(*shape):
        return minidl.tensor(on_device(np.zeros(shape)))

    with pytest.raises(ValueError, match=r'matmul: shapes \(2, 3\) and \(4, 5\) cannot be '
                                         r'multiplied \(3 != 4\)'):
        F.matmul(t(2, 3), t(4, 5))
    with pytest.raises(ValueError, match=r'matmul: shapes \(3,\) and \(2,\) cannot be multiplied'):
        t(3) @ t(2)
    with pytest.raises(ValueError, match=r'matmul: batch dimensions \(2,\) and \(3,\) cannot be '
                                         r'broadcast \(shapes \(2, 4, 5\) and \(3, 5, 6\)\)'):
        F.matmul(t(2, 4, 5), t(3, 5, 6))
    with pytest.raises(ValueError, match='matmul: both arguments need at least 1 dimension'):
        F.matmul(t(), t(3))
    with pytest.raises(ValueError, match='mm: expects two matrices'):
        F.mm(t(2, 3, 4), t(4, 2))
    with pytest.raises(ValueError, match='bmm: expects two 3-D tensors'):
        F.bmm(t(2, 3, 4), t(3, 4, 2))


def test_linear_errors_name_the_shapes():
    x, w = minidl.tensor(on_device(np.zeros((3, 5)))), minidl.tensor(on_device(np.zeros((6, 4))))
    with pytest.raises(ValueError, match=r'linear: input has 5 features \(shape \(3, 5\)\), '
                                         r'weight expects 4 \(weight \(6, 4\)\)'):
        F.linear(x, w)
    with pytest.raises(ValueError, match=r'linear: bias must have shape \(6,\)'):
        F.linear(minidl.tensor(on_device(np.zeros((3, 4)))), w, minidl.tensor(on_device(np.zeros(5))))


def test_linear_refuses_mixed_dtypes():
    """As PyTorch: no silent float64 or integer arithmetic with a float32 weight."""
    w = minidl.tensor(on_device(np.zeros((6, 4), np.float32)))
    for dtype in (np.float64, np.int64):
        x = minidl.tensor(on_device(np.zeros((3, 4), dtype)))
        with pytest.raises(TypeError, match=rf'linear: input is {np.dtype(dtype)} but weight is '
                                            r'float32 \(input \(3, 4\), weight \(6, 4\)\)'):
            F.linear(x, w)
    with pytest.raises(TypeError, match='linear: bias is float64 but input is float32'):
        F.linear(minidl.tensor(on_device(np.zeros((3, 4), np.float32))), w,
                 minidl.tensor(on_device(np.zeros(6))))


# ---------------------------------------------------------------- einsum

EINSUMS = [   # equation, operand shapes
    ('ij,jk->ik', [(2, 3), (3, 4)]), ('bij,bjk->bik', [(2, 3, 4), (2, 4, 2)]),
    ('i,i->', [(5,), (5,)]), ('i,j', [(3,), (2,)]), ('ij->ji', [(2, 3)]), ('ii->i', [(3, 3)]),
    ('ii', [(3, 3)]), ('ij->', [(2, 3)]), ('ij,k->ik', [(2, 3), (4,)]),
    ('...ij,...jk->...ik', [(2, 1, 2, 3), (4, 3, 2)]), ('bhqd,bhkd->bhqk', [(1, 2, 3, 4)] * 2),
    ('ij,jk,kl->il', [(2, 3), (3, 4), (4, 2)]), ('i j , j -> i', [(2, 3), (3,)]),
    ('iij->j', [(2, 2, 3)]), ('ij,ij->ij', [(1, 3), (4, 3)]),
]


@pytest.mark.parametrize('equation, shapes', EINSUMS)
def test_einsum(equation, shapes):
    torch = require_torch()
    rng = np.random.default_rng(len(equation))
    arrays = [rng.standard_normal(s) for s in shapes]
    check_gradients(lambda *t: minidl.einsum(equation, *t), arrays)
    check_torch_parity(lambda *t: minidl.einsum(equation, list(t)),
                       lambda *t: torch.einsum(equation, *t), arrays)


def test_einsum_errors():
    a, b = minidl.zeros(2, 3), minidl.zeros(4, 5)
    with pytest.raises(ValueError, match="einsum: subscript 'j' has size 3 in one operand and 4"):
        minidl.einsum('ij,jk->ik', a, b)
    with pytest.raises(ValueError, match="einsum: subscripts 'i' do not fit operand 0"):
        minidl.einsum('i->i', a)
    with pytest.raises(ValueError, match='einsum: the equation .* has 1 operand subscripts '
                                         'for 2 operands'):
        minidl.einsum('ij', a, b)
    with pytest.raises(RuntimeError, match='einsum: operands must share a dtype'):
        minidl.einsum('ij,ij->', a, a.double())
    with pytest.raises(TypeError, match='sublist form'):
        minidl.einsum(a, [0, 1])
