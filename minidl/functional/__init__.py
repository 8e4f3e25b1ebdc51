"""The operators, one family per file. Also importable as ``minidl.nn.functional``.

Every operator is a ``Function`` subclass (forward, backward with its derivation,
cost) and a plain function with PyTorch's name and arguments that applies it.
"""
from .elementwise import *      # noqa: F401,F403
from .unary import *            # noqa: F401,F403
from .activation import *       # noqa: F401,F403
from .reduction import *        # noqa: F401,F403
from .shape import *            # noqa: F401,F403
from .indexing import *         # noqa: F401,F403
from .linalg import *           # noqa: F401,F403
from .loss import *             # noqa: F401,F403
from .conv import *             # noqa: F401,F403
from .pooling import *          # noqa: F401,F403
from .normalization import *    # noqa: F401,F403
from .dropout import *          # noqa: F401,F403
from .upsampling import *       # noqa: F401,F403
from . import inplace           # noqa: F401  (the in-place forms; Tensor.add_ and co.)
