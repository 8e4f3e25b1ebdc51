"""``torch.backends.cudnn``: accepted, with no effect. minidl's GPU convolutions are its own
im2col GEMMs on CuPy, not cuDNN's, so there is nothing to benchmark or make deterministic:
``benchmark``, ``deterministic``, ``enabled`` and ``allow_tf32`` may be read and set, and
``is_available()`` says False."""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    """False: minidl does not use cuDNN."""
    return False


def version():
    """None: no cuDNN is loaded."""
    return None
