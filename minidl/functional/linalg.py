"""Matrix products: matmul (with NumPy's 1-D and batched rules), mm, bmm and linear.

Their cost is counted in multiply-accumulates (MACs): an (m, k) @ (k, n) product
does m*n*k of them, 2*m*n*k FLOPs; each input's gradient is another product of the
same size.
"""
import collections
import math
import string

from ..autograd import ArrayFunction as Function, Cost
from ..backend import get_array_module, matmul as array_matmul  # on minidl's CPU threads
from ._util import broadcast_conflict, check_tensor, sum_to_shape

__all__ = ['matmul', 'mm', 'bmm', 'linear', 'einsum']


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
    if broadcast_conflict(batch_a, batch_b):
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


# ================================================================ einsum


def _einsum_subscripts(equation, shapes):
    """The subscripts of each operand and of the output, one letter per dimension:
    '...' is replaced by letters the equation does not use (right-aligned across the
    operands, as broadcasting is), and an implicit output ('ij,jk') becomes the
    ellipsis dimensions followed by the letters used once, in alphabetical order."""
    equation = equation.replace(' ', '')
    lhs, arrow, rhs = equation.partition('->')
    terms = lhs.split(',')
    if len(terms) != len(shapes):
        raise ValueError(f'einsum: the equation {equation!r} has {len(terms)} operand '
                         f'subscripts for {len(shapes)} operands')
    unused = [c for c in string.ascii_letters if c not in equation]
    ellipsis_dims = max((len(s) - (len(t) - 3) for t, s in zip(terms, shapes) if '...' in t),
                        default=0)
    ellipsis = ''.join(unused[:ellipsis_dims])
    letters = []
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        if '...' in term:
            dims = max(len(shape) - (len(term) - 3), 0)    # what the ... stands for here
            term = term.replace('...', ellipsis[len(ellipsis) - dims:], 1)
        if not all(c in string.ascii_letters for c in term) or len(term) != len(shape):
            raise ValueError(f'einsum: subscripts {terms[k]!r} do not fit operand {k} of '
                             f'shape {tuple(shape)} (one letter per dimension, at most one '
                             f'...)')
        letters.append(term)
    if not arrow:
        counts = collections.Counter(''.join(letters))
        rhs = ellipsis + ''.join(sorted(c for c, n in counts.items()
                                        if n == 1 and c not in ellipsis))
    else:
        rhs = rhs.replace('...', ellipsis)
        if not all(c in ''.join(letters) for c in rhs) or len(set(rhs)) != len(rhs):
            raise ValueError(f'einsum: the output subscripts of {equation!r} must each '
                             f'appear in an operand, once')
    sizes = {}
    for term, shape in zip(letters, shapes):
        for c, n in zip(term, shape):
            if sizes.get(c, 1) not in (1, n) and n != 1:
                raise ValueError(f'einsum: subscript {c!r} has size {sizes[c]} in one operand '
                                 f'and {n} in another (equation {equation!r}, shapes '
                                 f'{[tuple(s) for s in shapes]})')
            sizes[c] = max(sizes.get(c, 1), n)
    return tuple(letters), rhs, sizes


class Einsum(Function):
    """The sum over every subscript missing from the output of the product of the
    operands' elements: out[rhs] = sum prod_k x_k[terms_k]."""

    @staticmethod
    def forward(ctx, *operands, terms, output):
        xp = get_array_module(*operands)
        ctx.save_for_backward(*operands)
        ctx.terms, ctx.output = terms, output
        return xp.einsum(f'{",".join(terms)}->{output}', *operands, optimize=len(operands) > 2)

    @staticmethod
    def backward(ctx, grad):
        """out = sum over the other subscripts of prod_j x_j, linear in each x_k:
            dL/dx_k[terms_k] = sum over the rest of g[output] prod_{j != k} x_j[terms_j],
        itself an einsum of the upstream gradient with the other operands. A subscript
        only x_k has (summed in x_k alone) gets the same gradient at every position;
        a subscript repeated in x_k (a diagonal) gets it on the diagonal only."""
        operands = ctx.saved_tensors
        xp = get_array_module(grad)
        grads = []
        for k, (x, need) in enumerate(zip(operands, ctx.needs_input_grad)):
            grads.append(_einsum_operand_grad(xp, grad, operands, ctx.terms, ctx.output, k)
                         if need else None)
        return tuple(grads)

    @staticmethod
    def cost(ctx, inputs, outputs):
        """Counted as the plain loop over every subscript (a contraction order may do
        less): one multiply per operand after the first, and one add."""
        sizes = {}
        for term, x in zip(ctx.terms, inputs):
            sizes.update({c: max(n, sizes.get(c, 1)) for c, n in zip(term, x.shape)})
        loop = math.prod(sizes.values())
        flops = loop * len(inputs)
        return Cost(macs=loop * (len(inputs) - 1), forward_flops=flops,
                    backward_input_flops=flops * sum(ctx.needs_input_grad))


def _einsum_operand_grad(xp, grad, operands, terms, output, k):
    """dL/d(operand k), as described in Einsum.backward."""
    term, shape = terms[k], operands[k].shape
    unique = ''.join(dict.fromkeys(term))
    available = set(output).union(*(terms[j] for j in range(len(terms)) if j != k))
    present = ''.join(c for c in unique if c in available)
    others = [j for j in range(len(terms)) if j != k]
    equation = ','.join([output] + [terms[j] for j in others]) + '->' + present
    g = xp.einsum(equation, grad, *(operands[j] for j in others), optimize=len(others) > 1)
    size = dict(zip(term, shape))
    if present != unique:                   # summed within x_k alone: broadcast back
        g = g.reshape([g.shape[present.index(c)] if c in present else 1 for c in unique])
        g = xp.broadcast_to(g, [g.shape[i] if c in present else size[c]
                                for i, c in enumerate(unique)])
    if unique != term:                      # a repeated subscript: its diagonal
        out = xp.zeros(shape, dtype=grad.dtype)
        index = tuple(xp.arange(size[c]).reshape([-1 if u == c else 1 for u in unique])
                      for c in term)
        out[index] = g
        return out
    return xp.ascontiguousarray(g)


def einsum(equation, *operands):
    """Einstein summation, as torch.einsum: ``einsum('ij,jk->ik', a, b)`` is a @ b,
    ``einsum('bij->bji', x)`` a transpose, ``einsum('ii', x)`` the trace. Operands may
    be passed as a list; '...' stands for broadcast leading dimensions; without '->' the
    output is the subscripts used once, in alphabetical order. Size-1 dimensions
    broadcast. Differentiable in every operand (the gradient of each is an einsum of
    the upstream gradient with the others).

    Not provided: the sublist form ``einsum(a, [0, 1], b, [1, 2])``, gradients of gradients.
    Raises ValueError when the subscripts do not fit the operands' shapes, RuntimeError
    when the operands' dtypes differ."""
    if not isinstance(equation, str):
        raise TypeError('einsum: the first argument must be the equation string; the '
                        'sublist form einsum(a, [0, 1], ...) is not supported by minidl')
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for k, x in enumerate(operands):
        check_tensor(x, 'einsum', f'operand {k}')
    if len({x.dtype for x in operands}) > 1:
        raise RuntimeError(f'einsum: operands must share a dtype, got '
                           f'{[str(x.dtype) for x in operands]}')
    terms, output, _ = _einsum_subscripts(equation, [x.shape for x in operands])
    return Einsum.apply(*operands, terms=terms, output=output)
