"""minidl: a deep learning engine written from scratch on NumPy (CPU) and CuPy (GPU).

Its API follows PyTorch's names: ``import minidl as torch`` ports most scripts.
"""
from .backend import (Device as device, cuda_is_available, get_array_module, manual_seed,
                      initial_seed, seed, get_rng_state, set_rng_state, Generator,
                      get_num_threads, set_num_threads)
from .autograd import (ArrayFunction, ArrayFunction as Function, no_grad, enable_grad,
                       set_grad_enabled, is_grad_enabled, inference_mode)
from .tensor import (Tensor, Size, get_default_dtype, set_default_dtype, float16, float32, float64,
                     int8, int16, int32, int64, uint8, bool_)
from .creation import (tensor, from_numpy, as_tensor, is_tensor, zeros, ones, empty, full, rand,
                       randn, randint, randperm, normal, arange, linspace, logspace, eye,
                       zeros_like, ones_like, empty_like, rand_like, randn_like, full_like)
from . import backend, functional
from .functional import (add, sub, mul, div, neg, pow, exp, log, sqrt, abs, clamp, clip,
                         maximum, minimum, where, relu, sigmoid, tanh, softmax, log_softmax,
                         cat, concat, stack, split, chunk, narrow, reshape, flatten, transpose,
                         permute, squeeze, unsqueeze, clone, matmul, mm, bmm, sum, mean, max,
                         min, var, std, argmax, argmin,
                         clamp_min, clamp_max, lerp, addcmul, addcdiv, eq, ne, lt, le, gt, ge,
                         equal, sin, cos, tan, sinh, cosh, exp2, log2, log10, log1p, expm1,
                         rsqrt, reciprocal, erf, sign, floor, ceil, round, trunc, fix, amax,
                         amin, prod, cumsum, logsumexp, norm, meshgrid, gather, scatter,
                         scatter_add, index_select, index_add, index_fill, masked_fill, sort,
                         argsort, topk, relu_, einsum, flip, fliplr, flipud, isnan, isinf,
                         isfinite, isclose, allclose, all, any, nonzero)
from .gradcheck import gradcheck, GradcheckError
from .typeinfo import finfo, iinfo
from .serialization import save, load
from . import viz
from . import nn, optim, utils, cuda, accelerator, backends, autograd, models
from . import distributed

__version__ = '0.1.0'
default_generator = backend.default_generator()
float = float32
double = float64
half = float16
long = int64
bool = bool_

