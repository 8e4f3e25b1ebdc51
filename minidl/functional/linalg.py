"""Matrix products: matmul (with NumPy's 1-D and batched rules), mm, bmm and linear.

Their cost is counted in multiply-accumulates (MACs): an (m, k) @ (k, n) product
does m*n*k of them, 2*m*n*k FLOPs; each input's gradient is another product of the
same size.
"""
import math

from ..autograd import ArrayFunction as Function, Cost
from ..backend import get_array_module, matmul as array_matmul  # on minidl's CPU threads
from ._util import check_tensor, sum_to_shape

__all__ = ['matmul', 'mm', 'bmm', 'linear']


def _rows(x):
    """x as a matrix of its last dimension's rows, (prod(leading), last): a plain
    reshape(-1, k) is ambiguous when k is 0 (an empty inner dimension)."""
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        ctx.shapes = (a.shape, b.shape)
        ctx.inner = a.shape[-1]
        return array_matmul(a, b)

    @staticmethod
    def backward(ctx, grad):
        """C = A B (per batch): dL/dA = dL/dC B^T and dL/dB = A^T dL/dC, each summed
        over the batch dimensions that broadcasting repeated. A 1-D A is the row
        matrix (1, k) and a 1-D B the column (k, 1), whose added axis is removed again."""
        a, b = ctx.saved_tensors
        shape_a, shape_b = ctx.shapes
        xp = get_array_module(grad)
        # restore the axes matmul dropped for 1-D operands
        if len(shape_a) == 1:
            grad = xp.expand_dims(grad, -2 if len(shape_b) > 1 else 0)
        if len(shape_b) == 1:
            grad = xp.expand_dims(grad, -1)
        matrix_a = shape_a if len(shape_a) > 1 else (1,) + shape_a
        matrix_b = shape_b if len(shape_b) > 1 else shape_b + (1,)
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            b = b.reshape(matrix_b)
            grad_a = sum_to_shape(array_matmul(grad, xp.swapaxes(b, -1, -2)), matrix_a)
            grad_a = grad_a.reshape(shape_a)
        if ctx.needs_input_grad[1]:
            a = a.reshape(matrix_a)
            if len(matrix_b) == 2 and grad.ndim > 2:
                # a batch of rows times one matrix: one GEMM over all rows at once
                grad_b = array_matmul(_rows(a).T, _rows(grad))
            else:
                grad_b = sum_to_shape(array_matmul(xp.swapaxes(a, -1, -2), grad), matrix_b)
            grad_b = grad_b.reshape(shape_b)
        return grad_a, grad_b

    @staticmethod
    def cost(ctx, inputs, outputs):
        macs = outputs[0].size * ctx.inner
        grads = sum(1 for need in ctx.needs_input_grad if need)
        return Cost(macs=macs, forward_flops=2 * macs, backward_input_flops=2 * macs * grads)


class Linear(Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        need_x, need_w, _ = ctx.needs_input_grad
        ctx.save_for_backward(x if need_w else None, weight if need_x else None)
        ctx.x_shape = x.shape
        out = array_matmul(_rows(x), weight.T)
        if bias is not None:
            out += bias
        return out.reshape(x.shape[:-1] + (weight.shape[0],))

    @staticmethod
    def backward(ctx, grad):
        """y = x W^T + b over rows x of the flattened batch:
        dL/dx = dL/dy W,   dL/dW = sum over rows of (dL/dy)^T x,   dL/db = sum over
        rows of dL/dy."""
        x, weight = ctx.saved_tensors
        grad_rows = _rows(grad)
        need_x, need_w, need_b = ctx.needs_input_grad
        grad_x = array_matmul(grad_rows, weight).reshape(ctx.x_shape) if need_x else None
        grad_w = array_matmul(grad_rows.T, _rows(x)) if need_w else None
        grad_b = grad_rows.sum(axis=0) if need_b else None
        return grad_x, grad_w, grad_b

    @staticmethod
    def cost(ctx, inputs, outputs):
        x, weight, bias = inputs
        out_features, in_features = weight.shape
        batch = x.size // in_features if in_features else 0
        macs = batch * in_features * out_features
        bias_adds = batch * out_features if bias is not None else 0
        need_x, need_w, need_b = ctx.needs_input_grad
        return Cost(macs=macs, forward_flops=2 * macs + bias_adds,
                    backward_input_flops=2 * macs if need_x else 0,
                    backward_weight_flops=(2 * macs if need_w else 0) + (bias_adds if need_b else 0))


def _broadcast_batch(op, batch_a, batch_b, shape_a, shape_b):
    for x, y in zip(reversed(batch_a), reversed(batch_b)):
        if x != y and x != 1 and y != 1:
            raise ValueError(f'{op}: batch dimensions {batch_a} and {batch_b} cannot be '
                             f'broadcast (shapes {shape_a} and {shape_b})')


def matmul(input, other):
    """Matrix product with NumPy's and PyTorch's rules: 1-D operands are vectors,
    more than 2 dimensions are batches of matrices (the batch dimensions broadcast)."""
    check_tensor(input, 'matmul')
    check_tensor(other, 'matmul', 'other')
    sa, sb = input.shape, other.shape
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError(f'matmul: both arguments need at least 1 dimension, got shapes '
                         f'{sa} and {sb}')
    k_a = sa[-1]
    k_b = sb[0] if len(sb) == 1 else sb[-2]
    if k_a != k_b:
        raise ValueError(f'matmul: shapes {sa} and {sb} cannot be multiplied ({k_a} != {k_b})')
    _broadcast_batch('matmul', sa[:-2], sb[:-2], sa, sb)
    return MatMul.apply(input, other)


def mm(input, mat2):
    """Product of two matrices (2-D only)."""
    check_tensor(input, 'mm')
    check_tensor(mat2, 'mm', 'mat2')
    if input.ndim != 2 or mat2.ndim != 2:
        raise ValueError(f'mm: expects two matrices, got shapes {input.shape} and {mat2.shape}')
    return matmul(input, mat2)


def bmm(input, mat2):
    """Batched product of (b, n, m) and (b, m, p) tensors (no broadcasting)."""
    check_tensor(input, 'bmm')
    check_tensor(mat2, 'bmm', 'mat2')
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise ValueError(f'bmm: expects two 3-D tensors with the same batch size, got shapes '
                         f'{input.shape} and {mat2.shape}')
    return matmul(input, mat2)


def linear(input, weight, bias=None):
    """y = input @ weight^T + bias, weight of shape (out_features, in_features); all of
    one dtype (as PyTorch requires; an integer input is refused, not converted)."""
    check_tensor(input, 'linear')
    check_tensor(weight, 'linear', 'weight')
    if weight.ndim != 2:
        raise ValueError(f'linear: weight must be 2-D (out_features, in_features), got shape '
                         f'{weight.shape}')
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        got = input.shape[-1] if input.ndim else 'no'
        raise ValueError(f'linear: input has {got} features (shape {input.shape}), weight '
                         f'expects {weight.shape[1]} (weight {weight.shape})')
    if input.dtype != weight.dtype:
        raise TypeError(f'linear: input is {input.dtype} but weight is {weight.dtype} '
                        f'(input {input.shape}, weight {weight.shape}); convert one, e.g. '
                        f'input.to(weight.dtype)')
    if bias is not None:
        check_tensor(bias, 'linear', 'bias')
        if bias.shape != (weight.shape[0],):
            raise ValueError(f'linear: bias must have shape ({weight.shape[0]},) for weight '
                             f'{weight.shape}, got {bias.shape}')
        if bias.dtype != input.dtype:
            raise TypeError(f'linear: bias is {bias.dtype} but input is {input.dtype}')
    return Linear.apply(input, weight, bias)
