import numpy as np
import pytest

import minidl
from minidl import Function, GradcheckError, gradcheck


class WrongSquare(Function):
    """x^2 with a deliberately wrong backward (3x instead of 2x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * x * grad


def test_passes_on_correct_gradient():
    x = minidl.tensor(np.random.randn(3, 4), requires_grad=True)
    assert gradcheck(lambda t: (t * t).exp(), (x,))


def test_names_input_and_element_on_failure():
    x = minidl.tensor(np.array([[1.0, 2.0], [3.0, -1.5]]), requires_grad=True)
    with pytest.raises(GradcheckError, match=r'input 0 \(shape \(2, 2\)\), element \(\d, \d\): '
                                             r'analytic .* vs numerical'):
        gradcheck(WrongSquare.apply, (x,))
    assert gradcheck(WrongSquare.apply, (x,), raise_exception=False) is False


def test_fast_mode_checks_one_direction():
    x = minidl.tensor(np.random.randn(5), requires_grad=True)
    assert gradcheck(lambda t: t.exp() * t, (x,), fast_mode=True)
    with pytest.raises(GradcheckError, match='directional derivative'):
        gradcheck(WrongSquare.apply, (x,), fast_mode=True)


def test_requires_float64():
    x = minidl.randn(3, requires_grad=True)
    with pytest.raises(TypeError, match='float64'):
        gradcheck(lambda t: t * 2, (x,))


def test_only_checks_inputs_that_require_grad():
    x = minidl.tensor(np.random.randn(3), requires_grad=True)
    y = minidl.tensor(np.random.randn(3))
    assert gradcheck(lambda a, b: a * b, (x, y))
    with pytest.raises(ValueError, match='no input requires grad'):
        gradcheck(lambda a: a * 2, (y,))
