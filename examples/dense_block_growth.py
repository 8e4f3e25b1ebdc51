"""A dense block's channel growth, and what the transition layer does about it.

The lesson: in a DenseNet block, layer l receives the concatenation of the block's input
and the outputs of all l - 1 layers before it, and adds k new channels (the growth
rate). With k0 input channels, layer l sees k0 + (l - 1) k channels and the block
outputs k0 + L k. Each layer is BN-ReLU-conv1x1 (to 4k channels, the bottleneck) then
BN-ReLU-conv3x3 (to k), so a layer's cost grows with its input width only in the cheap
1x1 convolution. A transition layer (BN-ReLU-conv1x1 halving the channels, then 2x2
average pooling) keeps the width from growing without bound from block to block.

This script builds DenseNet-121's first block (k0 = 64, k = 32, 6 layers) and its first
transition, runs them, and prints each layer's input and output channels with the
parameters and multiply-adds minidl's profiler counts.

    python examples/dense_block_growth.py          # a few seconds
    python examples/dense_block_growth.py --fast
"""
import argparse

import minidl
from minidl import nn
from minidl.models import DenseBlock, Transition
from minidl.profile import summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--fast', action='store_true', help='a small input, for the tests')
    parser.add_argument('--layers', type=int, default=6)
    parser.add_argument('--growth-rate', type=int, default=32)
    parser.add_argument('--in-channels', type=int, default=64)
    args = parser.parse_args(argv)
    k0, k, layers = args.in_channels, args.growth_rate, args.layers
    size = 8 if args.fast else 56          # DenseNet-121 meets its first block at 56x56
    minidl.manual_seed(0)

    block = DenseBlock(num_layers=layers, num_input_features=k0, bn_size=4, growth_rate=k)
    out_channels = k0 + layers * k
    model = nn.Sequential(block, Transition(out_channels, out_channels // 2))
    model.eval()
    shape = (1, k0, size, size)
    costs = summary(model, shape)
    with minidl.no_grad():
        after_block = block(minidl.randn(*shape))
        after_transition = model(minidl.randn(*shape))

    print(f'Dense block: k0 = {k0} input channels, growth rate k = {k}, {layers} layers, '
          f'input {shape}\n')
    print(f'{"layer":<13} {"in ch":>6} {"out ch":>7} {"concat so far":>14} {"params":>8} '
          f'{"MACs":>9}')
    rows = []
    for l in range(1, layers + 1):
        layer = getattr(block, f'denselayer{l}')
        path = f'0.denselayer{l}'
        macs = sum(r.macs for r in costs.rows if r.path == path or r.path.startswith(path + '.'))
        params = sum(p.numel() for p in layer.parameters())
        c_in = layer.conv1.in_channels
        assert c_in == k0 + (l - 1) * k         # the growth, as the formula says
        rows.append((l, c_in, layer.conv2.out_channels, c_in + k, params, macs))
        print(f'denselayer{l:<3} {c_in:>6} {layer.conv2.out_channels:>7} {c_in + k:>14} '
              f'{params:>8,} {macs / 1e6:>8.2f}M')
    t_params = sum(p.numel() for p in model[1].parameters())
    t_macs = sum(r.macs for r in costs.rows if r.path == '1' or r.path.startswith('1.'))
    print(f'{"transition":<13} {out_channels:>6} {out_channels // 2:>7} {"":>14} '
          f'{t_params:>8,} {t_macs / 1e6:>8.2f}M')
    print(f'\nblock output: {tuple(after_block.shape)} = k0 + L k = {k0} + {layers} x {k} = '
          f'{out_channels} channels')
    print(f'after the transition: {tuple(after_transition.shape)} (channels halved, map '
          f'halved)')
    print('Each layer adds only k channels, but its 1x1 convolution reads all earlier ones: '
          'the input\nwidth (and the 1x1 cost) grows linearly through the block, which is '
          'why blocks are short\nand transitions halve the width between them.')
    return rows


if __name__ == '__main__':
    main()
