"""``torch.nn.utils``'s helpers for training: gradient clipping (clip_grad.py) and
parameters as one flat vector (convert_parameters.py)."""
from .clip_grad import (clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_,
                        get_total_norm)
from .convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ['clip_grad_norm', 'clip_grad_norm_', 'clip_grad_value_', 'clip_grads_with_norm_',
           'get_total_norm', 'parameters_to_vector', 'vector_to_parameters']
