"""Parameter: a Tensor that a Module registers as something to train."""
from ..backend import is_array
from ..tensor import Tensor, get_default_dtype

__all__ = ['Parameter']


class Parameter(Tensor):
    """A leaf Tensor that requires grad by default and that ``Module.__setattr__``
    registers in ``_parameters`` (so ``parameters()``, ``state_dict()`` and the optimizer
    see it). ``Parameter(t)`` shares ``t``'s array."""
    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            import numpy as np
            data = np.empty((0,), dtype=get_default_dtype())
        elif isinstance(data, Tensor):
            data = data.array
        elif not is_array(data):
            raise TypeError(f'Parameter: data must be a Tensor or an array, got '
                            f'{type(data).__name__}')
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return 'Parameter containing:\n' + super().__repr__()

    def __reduce_ex__(self, protocol):
        # rebuilt as a Parameter (with its gradient flag) by pickle and copy.deepcopy
        return (_rebuild_parameter, (self.array, self.requires_grad, self.grad))


def _rebuild_parameter(data, requires_grad, grad):
    p = Parameter(data, requires_grad)
    p.grad = grad
    return p
