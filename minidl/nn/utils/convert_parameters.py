"""Parameters as one flat vector and back, as ``torch.nn.utils.convert_parameters``
(for optimizers and tools that work on a single vector: line searches, second-order
methods, weight averaging)."""
from ... import functional as F
from ...tensor import Tensor

__all__ = ['parameters_to_vector', 'vector_to_parameters']


def _same_device(op, tensors):
    devices = {str(t.device) for t in tensors}
    if len(devices) > 1:
        raise TypeError(f'{op}: found parameters on different devices {sorted(devices)}; '
                        f'they must all be on one')


def parameters_to_vector(parameters):
    """The parameters (an iterable of Tensors), each flattened, concatenated into one
    1-D Tensor, differentiable (its gradient flows back to each parameter)."""
    parameters = list(parameters)
    _same_device('parameters_to_vector', parameters)
    return F.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Make each parameter hold its slice of the 1-D Tensor ``vec`` (in the order of
    ``parameters_to_vector``), as PyTorch does through ``param.data``: the parameters
    then share ``vec``'s memory, and autograd does not record the change. Raises
    TypeError when ``vec`` is not a Tensor, RuntimeError when it is not 1-D or shorter
    than the parameters' total size (elements after that are left unused, as in
    PyTorch)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f'vector_to_parameters: expected a Tensor, but got: '
                        f'{type(vec).__name__}')
    parameters = list(parameters)
    _same_device('vector_to_parameters', parameters + [vec])
    total = sum(p.numel() for p in parameters)
    if vec.ndim != 1 or vec.numel() < total:
        raise RuntimeError(f'vector_to_parameters: vec has shape {vec.shape}, the parameters '
                           f'hold {total} elements in all')
    pointer = 0
    for param in parameters:
        n = param.numel()
        param.data = vec.array[pointer:pointer + n].reshape(param.shape)
        pointer += n
