"""The Inception block's 1x1 bottlenecks: what they save, counted and timed.

The lesson: an Inception block runs 1x1, 3x3 and 5x5 convolutions and a max-pool side
by side and concatenates them. Run on all 192 input channels, the 3x3 and 5x5 branches
cost most of the block; GoogLeNet first squeezes the channels with a 1x1 convolution
(3x3: 192 -> 96, 5x5: 192 -> 16), which cuts the multiply-adds by more than half for the
same 256 output channels.

Block 3a of GoogLeNet (input 192 x 28 x 28; outputs 64 + 128 + 32 + 32 = 256 channels):

    with bottlenecks:    1x1 64 | 1x1 96 -> 3x3 128 | 1x1 16 -> 5x5 32 | pool -> 1x1 32
    without:             1x1 64 |           3x3 128 |           5x5 32 | pool -> 1x1 32

This script prints minidl's profiler figures (parameters, multiply-adds, FLOPs of
forward and backward, bytes saved for backward) next to the measured time of a
forward and a forward + backward pass, for both blocks.

    python examples/inception_bottleneck.py            # under a minute
    python examples/inception_bottleneck.py --fast
"""
import argparse
import time

import minidl
from minidl import nn
from minidl.profile import summary


def conv_relu(cin, cout, k):
    return nn.Sequential(nn.Conv2d(cin, cout, kernel_size=k, padding=k // 2), nn.ReLU())


class InceptionBlock(nn.Module):
    """Inception block 3a, with or without the 1x1 reductions before the 3x3 and 5x5."""

    def __init__(self, bottleneck, cin=192, c1=64, c3red=96, c3=128, c5red=16, c5=32,
                 pool_proj=32):
        super().__init__()
        self.branch1 = conv_relu(cin, c1, 1)
        if bottleneck:
            self.branch2 = nn.Sequential(conv_relu(cin, c3red, 1), conv_relu(c3red, c3, 3))
            self.branch3 = nn.Sequential(conv_relu(cin, c5red, 1), conv_relu(c5red, c5, 5))
        else:
            self.branch2 = conv_relu(cin, c3, 3)
            self.branch3 = conv_relu(cin, c5, 5)
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                     conv_relu(cin, pool_proj, 1))

    def forward(self, x):
        return minidl.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)],
                          1)


def seconds_per_pass(model, x, backward, repeats):
    """The best of ``repeats`` timings of one pass (the minimum is the least disturbed)."""
    best = float('inf')
    for _ in range(repeats + 1):           # the first run warms up
        for p in model.parameters():
            p.grad = None
        start = time.perf_counter()
        if backward:
            model(x).sum().backward()
        else:
            with minidl.no_grad():
                model(x)
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--fast', action='store_true', help='a small input, for the tests')
    parser.add_argument('--batch', type=int, default=None)
    args = parser.parse_args(argv)
    batch = args.batch or (2 if args.fast else 16)
    size = 14 if args.fast else 28
    repeats = 1 if args.fast else 5
    shape = (batch, 192, size, size)
    minidl.manual_seed(0)
    x = minidl.randn(*shape)

    rows, blocks = {}, {}
    for name, bottleneck in (('with 1x1 bottlenecks', True), ('without (naive)', False)):
        block = blocks[name] = InceptionBlock(bottleneck)
        costs = summary(block, shape, backward=True)
        rows[name] = dict(params=costs.total_params, macs=costs.total_macs,
                          forward=costs.forward_flops, backward=costs.backward_flops,
                          saved=costs.saved_bytes, t_forward=float('inf'),
                          t_train=float('inf'))
        branch_macs = {b: sum(r.macs for r in costs.rows
                              if r.path == b or r.path.startswith(b + '.'))
                       for b in ('branch1', 'branch2', 'branch3', 'branch4')}
        rows[name]['branches'] = branch_macs
    # time the two blocks in alternating rounds, keeping each one's best: on a machine
    # shared with other jobs a slow spell then hits both, not only one
    for _ in range(repeats):
        for name, block in blocks.items():
            rows[name]['t_forward'] = min(rows[name]['t_forward'],
                                          seconds_per_pass(block, x, False, 1))
            rows[name]['t_train'] = min(rows[name]['t_train'],
                                        seconds_per_pass(block, x, True, 1))

    print(f'Inception block 3a on input {shape} (batch x channels x height x width)\n')
    header = (f'{"block":<22} {"params":>9} {"MACs":>8} {"fwd FLOPs":>10} {"bwd FLOPs":>10} '
              f'{"saved MB":>9} {"fwd ms":>8} {"fwd+bwd ms":>11}')
    print(header)
    for name, r in rows.items():
        print(f'{name:<22} {r["params"]:>9,} {r["macs"] / 1e6:>7.1f}M {r["forward"] / 1e6:>9.1f}M '
              f'{r["backward"] / 1e6:>9.1f}M {r["saved"] / 2 ** 20:>9.2f} '
              f'{1e3 * r["t_forward"]:>8.1f} {1e3 * r["t_train"]:>11.1f}')
    with_b, without = rows['with 1x1 bottlenecks'], rows['without (naive)']
    print('\nMultiply-adds per branch (millions):')
    for b in ('branch1', 'branch2', 'branch3', 'branch4'):
        print(f'  {b}: {with_b["branches"][b] / 1e6:8.1f} with bottleneck, '
              f'{without["branches"][b] / 1e6:8.1f} without')
    print(f'\nThe bottlenecks cut the multiply-adds by {without["macs"] / with_b["macs"]:.2f}x '
          f'and the parameters by {without["params"] / with_b["params"]:.2f}x;\n'
          f'measured here (best of {repeats}), the naive block takes '
          f'{without["t_forward"] / with_b["t_forward"]:.2f}x the bottleneck block\'s time '
          f'forward and {without["t_train"] / with_b["t_train"]:.2f}x forward + backward\n'
          f'(time also pays for memory traffic and per-layer overheads, which MACs do not '
          f'count; the\n bottleneck block runs two more convolutions).')
    return rows


if __name__ == '__main__':
    main()
