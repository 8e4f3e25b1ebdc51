"""Conv2d."""
import math

from .. import functional as F
from ..functional._window import pair
from ..creation import empty
from . import init
from .module import Module
from .parameter import Parameter


class Conv2d(Module):
    """2-D convolution over (N, C, H, W) or unbatched (C, H, W) inputs; ``groups`` gives
    grouped and depthwise convolution. Weight shape (out_channels, in_channels / groups,
    kh, kw). Settings PyTorch refuses (a kernel, stride or dilation below 1, negative
    padding or channel counts, groups below 1) raise ValueError here, at construction."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode='zeros', device=None,
                 dtype=None):
        super().__init__()
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError(f'Conv2d: groups must be a positive integer, got {groups!r}')
        for name, count in (('in_channels', in_channels), ('out_channels', out_channels)):
            if not isinstance(count, int) or count < 0:
                raise ValueError(f'Conv2d: {name} must be a non-negative integer, got {count!r}')
        if in_channels % groups or out_channels % groups:
            raise ValueError(f'Conv2d: groups={groups} must divide in_channels={in_channels} '
                             f'and out_channels={out_channels}')
        if padding_mode != 'zeros':
            raise ValueError(f"Conv2d: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, 'kernel_size', 'Conv2d', minimum=1)
        self.stride = pair(stride, 'stride', 'Conv2d', minimum=1)
        if isinstance(padding, str):
            if padding not in ('same', 'valid'):
                raise ValueError(f"Conv2d: invalid padding string {padding!r}, should be one "
                                 f"of {{'valid', 'same'}}")
            if padding == 'same' and self.stride != (1, 1):
                raise ValueError(f"Conv2d: padding='same' is not supported for strided "
                                 f"convolutions (stride {self.stride})")
            self.padding = padding
        else:
            self.padding = pair(padding, 'padding', 'Conv2d', minimum=0)
        self.dilation = pair(dilation, 'dilation', 'Conv2d', minimum=1)
        self.groups = groups
        self.padding_mode = padding_mode
        self.weight = Parameter(empty(out_channels, in_channels // groups, *self.kernel_size,
                                      dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter('bias', None)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) for the weight, which is
        U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding,
                        self.dilation, self.groups)

    def extra_repr(self):
        s = (f'{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, '
             f'stride={self.stride}')
        if self.padding != (0, 0):
            s += f', padding={self.padding}'
        if self.dilation != (1, 1):
            s += f', dilation={self.dilation}'
        if self.groups != 1:
            s += f', groups={self.groups}'
        if self.bias is None:
            s += ', bias=False'
        return s
