"""``minidl.nn.functional``: the same operators as ``minidl.functional``."""
from ..functional import *  # noqa: F401,F403
