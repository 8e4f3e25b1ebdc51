"""``torch.backends``'s switches that scripts set: ``cudnn`` and ``mps``.

minidl runs on NumPy and CuPy and uses neither cuDNN nor Apple's MPS, so these only
answer the questions scripts ask (``is_available()`` is False) and accept the settings
they make; the settings have no effect.
"""
from . import cudnn, mps

__all__ = ['cudnn', 'mps']
