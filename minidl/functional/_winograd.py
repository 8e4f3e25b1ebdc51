"""3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3) on the CPU.

Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (CVPR 2016), eq. 8:
a 2x2 output tile Y of a 3x3 kernel g over the 4x4 input tile d it reads is

    Y = A^T [ (G g G^T) * (B^T d B) ] A        (* elementwise on 4x4)

with the small matrices BT, G, AT below. Summed over input channels the elementwise
product becomes, for each of the 16 positions xi of the 4x4 tile, one matrix product

    M[xi] (tiles, Cout) = V[xi] (tiles, C) @ U[xi]^T,   U[xi] (Cout, C),
    V = B^T d B (the input transform), U = G g G^T (the weight transform),

a linear layer per position, which multiplies 16 values per 4 outputs where im2col
multiplies 9 per output: 2.25x fewer multiply-adds, for the price of the transforms
(sums and differences). Backward, with dM = A dY A^T (the output-gradient transform,
the adjoint of Y = A^T M A), as for a linear layer:

    dU[xi] = dM[xi]^T @ V[xi],   dg = G^T dU G           (weight gradient)
    dV[xi] = dM[xi] @ U[xi],     dd = B dV B^T           (input gradient; overlapping
                                                           tiles add up)

Layout. The padded input is held channels-last, P[h, w, n, c] (one transposing copy);
tile (ty, tx) reads rows 2ty..2ty+3 and columns 2tx..2tx+3. Every transform step is then
a signed sum of strided slices of P along its two outer axes, whose inner (n, c) blocks
are contiguous: NumPy runs long loops, where the NCHW layout gives loops of 2-4 values.
The tiles of a block of images are ordered (ty, tx, n); V, M, dV, dM are (16, tiles,
channels) arrays, a batch of 16 row-major products for BLAS.

Rounding: the transforms add at most 4 terms and halve (exactly, in binary), so float32
results differ from im2col's by the order of additions (relative ~1e-6, as PyTorch's
own Winograd and im2col paths do).
"""
import numpy as np

from ..backend import BYTES_PER_BLOCK, grain, matmul, parallel_for

# Lavin & Gray (2016), F(2, 3): 4x4 input tiles, 2x2 output tiles
BT = np.array([[1, 0, -1, 0],
               [0, 1, 1, 0],
               [0, -1, 1, 0],
               [0, 1, 0, -1]])
G = np.array([[1, 0, 0],
              [0.5, 0.5, 0.5],
              [0.5, -0.5, 0.5],
              [0, 0, 1]])
AT = np.array([[1, 1, 1, 0],
               [0, 1, -1, -1]])


def signed_sum(parts, coefficients, out):
    """out[...] = sum_i coefficients[i] * parts[i], for coefficients 0, 1 and -1, with no
    temporaries. Returns ``out``."""
    started = False
    for part, coefficient in zip(parts, coefficients):
        if coefficient == 0:
            continue
        if not started:
            if coefficient == 1:
                out[...] = part
            else:
                np.negative(part, out=out)
            started = True
        elif coefficient == 1:
            out += part
        else:
            out -= part
    return out


def tiles(size, padding):
    """(tiles along the axis, padded length the tiles read) for an input ``size`` padded
    by ``padding`` on both sides: Hout = size + 2p - 2 outputs, in tiles of 2."""
    out = size + 2 * padding - 2
    count = -(-out // 2)
    return count, 2 * count + 2


def scratch_elements(b, size, padding, c, c_out):
    """Elements of the arrays one block of ``b`` images of ``size`` (H, W) holds at once,
    at most, for Conv2d.cost: forward, P with its row sums and V, then V, M and the
    output tiles; backward, dM (with its padded plane while it is made), then V with P,
    or dV with the input plane's gradient and the partial sums, and the block's dU."""
    (th, rows), (tw, cols) = tiles(size[0], padding[0]), tiles(size[1], padding[1])
    t = b * th * tw
    plane, across = rows * cols * b * c, 4 * th * cols * b * c
    forward = max(plane + across + 16 * t * c, 16 * t * c + 32 * t * c_out)
    backward = max(28 * t * c_out, 16 * t * c_out + plane + across + 16 * t * c,
                   16 * t * c_out + 16 * t * c + 36 * t * c + plane) + 16 * c * c_out
    return max(forward, backward)


# KRON[4a + b, 3i + j] = G[a, i] G[b, j]: U = G g G^T for a flattened 3x3 kernel g is
# KRON @ g (16 values), and G^T dU G is KRON^T @ dU (9 values).
KRON = np.kron(G, G)


def weight_transform(weight):
    """U[xi] = G g G^T for every (Cout, C) pair of a (Cout, C, 3, 3) weight, as a
    (16, Cout, C) array: U[4a + b, o, c] = sum_ij G[a, i] w[o, c, i, j] G[b, j], i.e.
    KRON @ w[o, c] flattened. Blocks of output channels on minidl's threads, each one
    product (BLAS on the block's thread: a product outside minidl's blocks would wake
    BLAS's own threads, which then spin on the cores the blocks run on; backend.py)."""
    c_out, c = weight.shape[:2]
    kron = KRON.astype(weight.dtype)
    u = np.empty((16, c_out, c), dtype=weight.dtype)

    def channels(start, stop):
        flat = kron @ weight[start:stop].reshape(-1, 9).T           # (16, o*C)
        u[:, start:stop] = flat.reshape(16, stop - start, c)

    parallel_for(np, c_out, grain(c_out, BYTES_PER_BLOCK // (16 * c * weight.itemsize)),
                 channels)
    return u


def weight_gradient(grad_u):
    """dL/dg = G^T dU G, i.e. KRON^T @ dU[:, o, c], from dU (16, Cout, C): the (Cout, C,
    3, 3) weight gradient, in blocks of output channels on minidl's threads."""
    c_out, c = grad_u.shape[1:]
    kron = KRON.astype(grad_u.dtype)
    grad = np.empty((c_out, c, 3, 3), dtype=grad_u.dtype)

    def channels(start, stop):
        flat = grad_u[:, start:stop].reshape(16, -1).T @ kron       # (o*C, 9)
        grad[start:stop] = flat.reshape(stop - start, c, 3, 3)

    parallel_for(np, c_out, grain(c_out, BYTES_PER_BLOCK // (16 * c * grad_u.itemsize)),
                 channels)
    return grad


def channels_last(x, padding, rows, cols):
    """A block of images (b, C, H, W) zero-padded into P (rows, cols, b, C)."""
    b, c, h, w = x.shape
    ph, pw = padding
    plane = np.zeros((rows, cols, b, c), dtype=x.dtype)
    plane[ph:ph + h, pw:pw + w] = x.transpose(2, 3, 0, 1)
    return plane


def input_transform(plane, th, tw):
    """V = B^T d B for every 4x4 tile of P (rows, cols, b, C): (16, th*tw*b, C).
    Rows first (V' = B^T d, for all four rows of B^T), then columns (V = V' B), each
    step a few large signed sums: NumPy holds the GIL while it starts an operation, so
    many small ones would keep two threads waiting on each other."""
    b, c = plane.shape[2:]
    rows = [plane[r:r + 2 * th:2] for r in range(4)]         # (th, cols, b, C) each
    across = np.empty((4, th) + plane.shape[1:], dtype=plane.dtype)
    for k in range(4):
        signed_sum(rows, BT[k], across[k])
    columns = [across[:, :, s:s + 2 * tw:2] for s in range(4)]   # (4, th, tw, b, C)
    v = np.empty((4, 4, th, tw, b, c), dtype=plane.dtype)
    for l in range(4):
        signed_sum(columns, BT[l], v[:, l])
    return v.reshape(16, th * tw * b, c)


def output_transform(m, th, tw, out):
    """Y = A^T M A: from M (16, th*tw*b, Cout) the 2x2 output tiles, written into
    ``out`` (b, Cout, Hout, Wout) (a last tile row or column past Hout or Wout dropped)."""
    b, c_out, ho, wo = out.shape
    m = m.reshape(4, 4, th, tw, b, c_out)
    partial = np.empty((2, 4, th, tw, b, c_out), dtype=m.dtype)
    for r in range(2):
        signed_sum(m, AT[r], partial[r])               # over the tile's rows
    y = np.empty((2, 2, th, tw, b, c_out), dtype=m.dtype)
    for s in range(2):
        signed_sum(partial.transpose(1, 0, 2, 3, 4, 5), AT[s], y[:, s])   # its columns
    # out[n, o, 2ty + r, 2tx + s] = Y[r, s, ty, tx, n, o]
    whole = out if (ho, wo) == (2 * th, 2 * tw) else np.empty((b, c_out, 2 * th, 2 * tw),
                                                              dtype=out.dtype)
    whole.reshape(b, c_out, th, 2, tw, 2)[...] = y.transpose(4, 5, 2, 0, 3, 1)
    if whole is not out:
        out[...] = whole[:, :, :ho, :wo]


def output_gradient_transform(grad, th, tw):
    """dM = A dY A^T from a block of output gradients (b, Cout, Hout, Wout):
    (16, th*tw*b, Cout). Outputs past Hout x Wout (odd sizes) have zero gradient."""
    b, c_out, ho, wo = grad.shape
    plane = np.zeros((2 * th, 2 * tw, b, c_out), dtype=grad.dtype)
    plane[:ho, :wo] = grad.transpose(2, 3, 0, 1)
    rows = [plane[r::2] for r in range(2)]                  # (th, 2*tw, b, Cout)
    across = np.empty((4, th, 2 * tw, b, c_out), dtype=grad.dtype)
    for k in range(4):
        signed_sum(rows, AT[:, k], across[k])
    columns = [across[:, :, s::2] for s in range(2)]        # (4, th, tw, b, Cout)
    dm = np.empty((4, 4, th, tw, b, c_out), dtype=grad.dtype)
    for l in range(4):
        signed_sum(columns, AT[:, l], dm[:, l])
    return dm.reshape(16, th * tw * b, c_out)


def input_gradient_transform(grad_v, th, tw, rows, cols):
    """dd = B dV B^T for every tile, added into the padded plane's gradient
    (rows, cols, b, C) at the tile's place (tiles overlap by two rows and columns):
    rows of the tile first, their columns added into full rows, then the rows."""
    dv = grad_v.reshape((4, 4, th, tw, -1) + grad_v.shape[-1:])
    inner = dv.shape[-2:]                                   # (b, C)
    partial = np.empty((4, 4, th, tw) + inner, dtype=grad_v.dtype)
    for r in range(4):
        signed_sum(dv, BT[:, r], partial[r])                # over the tile's rows
    by_row = np.zeros((4, th, cols) + inner, dtype=grad_v.dtype)
    column = np.empty((4, th, tw) + inner, dtype=grad_v.dtype)
    for s in range(4):                                      # its columns, in place
        by_row[:, :, s:s + 2 * tw:2] += signed_sum(partial.transpose(1, 0, 2, 3, 4, 5),
                                                   BT[:, s], column)
    plane = np.zeros((rows, cols) + inner, dtype=grad_v.dtype)
    for r in range(4):
        plane[r:r + 2 * th:2] += by_row[r]
    return plane


def forward(x, u, padding, out):
    """The convolution of a block of images x (b, C, H, W), given U =
    weight_transform(weight), written into ``out`` (b, Cout, Hout, Wout)."""
    b, c, h, w = x.shape
    (th, rows), (tw, cols) = tiles(h, padding[0]), tiles(w, padding[1])
    v = input_transform(channels_last(x, padding, rows, cols), th, tw)
    output_transform(matmul(v, u.transpose(0, 2, 1)), th, tw, out)


def backward(x, grad, u, size, padding, need_x, need_w):
    """(dL/dx block or None, dL/dU share of this block (16, Cout, C) or None) for a block
    of output gradients ``grad`` (b, Cout, Hout, Wout) of input images of ``size`` (H, W):
    ``x``, the images, is needed for dL/dU, ``u`` = weight_transform(weight) for dL/dx."""
    h, w = size
    (th, rows), (tw, cols) = tiles(h, padding[0]), tiles(w, padding[1])
    dm = output_gradient_transform(grad, th, tw)
    grad_x = grad_u = None
    if need_w:
        v = input_transform(channels_last(x, padding, rows, cols), th, tw)
        grad_u = matmul(dm.transpose(0, 2, 1), v)
        del v
    if need_x:
        dv = matmul(dm, u)
        plane = input_gradient_transform(dv, th, tw, rows, cols)
        ph, pw = padding
        grad_x = plane[ph:ph + h, pw:pw + w].transpose(2, 3, 0, 1)
    return grad_x, grad_u
