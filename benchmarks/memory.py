"""Memory of a training step: predicted against measured, and bytes saved for backward
against PyTorch's.

    python benchmarks/memory.py           # writes benchmarks/results/memory.md, prints it

1. Peak of one SGD (momentum 0.9) training step, cross-entropy loss, on the CPU:
   predicted by ``minidl.profile.summary(..., memory=True)`` from parameters, gradients,
   momentum buffers, input, bytes saved for backward and each operator's scratch
   buffer, each counted while it is live; measured with tracemalloc (NumPy reports its
   buffers to it) on a steady-state step (after a warm-up step that creates the
   momentum buffers).
2. Bytes saved for backward by one training-mode forward pass of one 224x224 image,
   de-duplicated by storage, parameters excluded, beside PyTorch 2.13's figure measured
   the same way (shared/reference/published.json).
"""
import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import minidl  # noqa: E402
from minidl import models  # noqa: E402
from minidl.profile import summary  # noqa: E402

REFERENCE = HERE.parent.parent / 'shared' / 'reference' / 'published.json'
MB = 1e6

TRAINING_STEPS = [
    # (label, model name, constructor arguments, input shape)
    ('LeNet-5, batch 64, 28x28', 'lenet5', {'num_classes': 10}, (64, 1, 28, 28)),
    ('ResNet-18 (CIFAR stem), batch 8, 32x32', 'resnet18',
     {'num_classes': 10, 'small_input': True}, (8, 3, 32, 32)),
    ('ResNet-18, batch 2, 224x224', 'resnet18', {}, (2, 3, 224, 224)),
    ('AlexNet, batch 4, 224x224', 'alexnet', {}, (4, 3, 224, 224)),
]


def table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join('---' for _ in header) + '|']
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def mb(nbytes):
    return f'{nbytes / MB:,.1f}'


def training_section():
    rows = []
    for label, name, kwargs, shape in TRAINING_STEPS:
        start = time.perf_counter()
        model = models.get_model(name, **kwargs)
        m = summary(model, shape, memory=True).memory
        print(f'  {label}: predicted {mb(m.predicted_peak_bytes)} MB, measured '
              f'{mb(m.measured_peak_bytes)} MB ({time.perf_counter() - start:.0f} s)',
              file=sys.stderr, flush=True)
        rows.append([label, mb(m.param_bytes), mb(m.grad_bytes + m.state_bytes),
                     mb(m.saved_bytes), mb(m.transient_bytes), mb(m.input_bytes),
                     mb(m.sum_of_terms_bytes), mb(m.predicted_peak_bytes),
                     mb(m.measured_peak_bytes), f'{m.ratio:.3f}'])
    return ('## Peak memory of one training step (CPU, float32)\n\n'
            'The terms: parameters, gradients + momentum buffers, bytes saved for backward, the '
            'largest scratch buffer of one operator (a convolution\'s columns and buffers for '
            'one block of images per thread, with the block\'s weight gradient: `Conv2d.cost`) '
            'and the input when no operator saved it. "all at once" '
            'adds them up; "predicted" counts each while it is live, walking the recorded '
            'operators forward, then backward in reverse (saved arrays released, parameter '
            'gradients and activation gradients in flight added), then the SGD update '
            '(`minidl.profile.memory.predict_peak`). "measured": tracemalloc over a '
            'steady-state step (after a warm-up step that creates the momentum buffers).\n\n'
            + table(['model', 'params MB', 'grads + momentum MB', 'saved MB', 'scratch MB',
                     'input MB', 'all at once MB', 'predicted MB', 'measured MB',
                     'measured / predicted'], rows))


def saved_by_type(s):
    by_type = {}
    for r in s.rows:
        if r.saved_bytes:
            by_type[r.type] = by_type.get(r.type, 0) + r.saved_bytes
    return by_type


def saved_section(ref):
    pt = ref['pytorch_saved_for_backward_mb_per_image']
    rows = []
    for name, theirs in pt.items():
        if name.startswith('_'):
            continue
        start = time.perf_counter()
        model = models.get_model(name)
        model.train()
        s = summary(model, (1, 3, 224, 224), backward=True)
        ours = s.saved_bytes / MB
        by_type = saved_by_type(s)
        conv = sum(v for k, v in by_type.items() if 'Conv' in k and k != 'BasicConv2d')
        top = ', '.join(f'{k} {v / MB:.1f}' for k, v in
                        sorted(by_type.items(), key=lambda kv: -kv[1])[:4])
        print(f'  {name}: {ours:.1f} MB saved per image ({time.perf_counter() - start:.0f} s)',
              file=sys.stderr, flush=True)
        rows.append([name, f'{ours:.1f}', f'{theirs}', f'{ours / theirs:.2f}',
                     f'{conv / MB:.1f}', top])
    return ('## Bytes saved for backward, one 224x224 image, training mode\n\n'
            f'PyTorch: {pt["_source"]}. minidl: `summary(model, (1, 3, 224, 224), '
            'backward=True).saved_bytes`, the arrays every recorded node keeps '
            '(`ctx.saved_arrays()`), de-duplicated by underlying memory, parameters excluded. '
            'MB = 10^6 bytes.\n\n'
            + table(['model', 'minidl MB', 'PyTorch MB', 'minidl / PyTorch',
                     'of which conv', 'largest by module type (MB)'], rows)
            + '\n\nWhy the figures are close: a convolution saves its input (C × H × W, '
            'usually the storage the ReLU or batch norm before it keeps anyway), not its im2col '
            'columns (C·kh·kw × Hout·Wout, 9 times the input of a 3x3 stride-1 convolution), '
            'which backward rebuilds; PyTorch too saves a convolution\'s input. Batch norm saves '
            'one input-sized array (x_hat), ReLU its output. PyTorch also runs ReLU '
            'in place (torchvision\'s `inplace=True`), so a ReLU after a batch norm shares '
            'its storage with the next layer\'s saved input; both frameworks de-duplicate '
            'what is shared.')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=str(HERE / 'results' / 'memory.md'))
    args = parser.parse_args(argv)
    if not REFERENCE.is_file():
        sys.exit(f'{Path(__file__).name}: the published figures are not here: {REFERENCE} '
                 f'(the shared/ folder beside the minidl checkout holds them)')
    ref = json.loads(REFERENCE.read_text())
    minidl.manual_seed(0)
    start = time.perf_counter()
    sections = [training_section(), saved_section(ref)]
    text = '\n\n'.join(
        ['# Memory: predicted against measured, and against PyTorch',
         f'Produced by `python benchmarks/memory.py` on the CPU (NumPy); total time '
         f'{time.perf_counter() - start:.0f} s.'] + sections) + '\n'
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == '__main__':
    main()
