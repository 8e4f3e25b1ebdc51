"""Where a minidl training step spends its GPU time: every CUDA kernel of a few steps,
recorded by PyTorch's profiler (CUPTI sees the kernels CuPy launches too).

    python benchmarks/gpu_profile.py --models resnet18,inception --steps 5

For each model it prints the step's wall time, the time the GPU was busy (the sum of
kernel times; the rest is the host launching work: Python, minidl and CuPy overhead),
the number of kernel launches per step, and the kernels that take the most time.
"""
import argparse
import sys
import time
from collections import defaultdict

import numpy as np

from speed import CLASSES, MODELS, Runner, minidl_step_fn  # noqa: E402  (benchmarks/)


def profile_model(name, steps, top):
    import torch
    from torch.profiler import ProfilerActivity, profile
    import minidl
    runner = Runner('cuda')
    spec = MODELS[name]
    shape = spec.shape('cuda')
    rng = np.random.default_rng(0)
    model = spec.build().to('cuda')
    x = runner.minidl_array(rng.standard_normal(shape).astype(np.float32))
    y = runner.minidl_array(rng.integers(0, CLASSES, shape[0]))
    step = minidl_step_fn(model, (x, y))
    for _ in range(3):
        step()
    runner.sync()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        runner.sync()
        wall = (time.perf_counter() - start) / steps
    kernels = defaultdict(lambda: [0, 0.0])
    for event in prof.events():
        if event.device_type == torch.autograd.DeviceType.CUDA:
            entry = kernels[event.name[:90]]
            entry[0] += 1
            entry[1] += event.device_time_total / 1e6
    busy = sum(t for _, t in kernels.values()) / steps
    launches = sum(c for c, _ in kernels.values()) / steps
    print(f'\n## {name} (batch {shape[0]}, minidl kernels '
          f'{"on" if minidl.backend.use_cuda_kernels else "off"}): step {wall * 1e3:.1f} ms wall, '
          f'GPU busy {busy * 1e3:.1f} ms ({busy / wall:.0%}), {launches:.0f} kernel launches')
    print('| kernel | launches/step | ms/step | share of busy |\n|---|---|---|---|')
    for kname, (count, total) in sorted(kernels.items(), key=lambda kv: -kv[1][1])[:top]:
        print(f'| `{kname}` | {count / steps:.0f} | {total / steps * 1e3:.2f} | '
              f'{total / steps / busy:.0%} |')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', default='resnet18,inception,mobilenet_v1')
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--top', type=int, default=12)
    args = parser.parse_args(argv)
    for name in args.models.split(','):
        profile_model(name.strip(), args.steps, args.top)
    return 0


if __name__ == '__main__':
    sys.exit(main())
