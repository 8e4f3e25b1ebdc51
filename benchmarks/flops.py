"""Parameters and multiply-adds of the zoo beside the published figures.

    python benchmarks/flops.py            # writes benchmarks/results/flops.md, prints it

Every model runs one forward pass of a 1x3x224x224 input under no_grad (LeNet-5: its
1x28x28 input), and the profiler adds up the MACs its convolutions and linear layers
report (``minidl.profile.summary``). The published figures come from
shared/reference/published.json, each with its source. The profiler's conventions:
MACs of conv + linear are what torchvision and the papers print as FLOPs; FLOPs are
2 x MACs plus elementwise work.
"""
import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import minidl  # noqa: E402
import minidl.nn as nn  # noqa: E402
from minidl import models  # noqa: E402
from minidl.profile import CONVENTIONS, summary  # noqa: E402

REFERENCE = HERE.parent.parent / 'shared' / 'reference' / 'published.json'
INPUT = (1, 3, 224, 224)


def count(name, input_size=INPUT, **kwargs):
    """(params, MACs, summary) of zoo model ``name`` on one forward pass, in eval mode."""
    model = models.get_model(name, **kwargs)
    model.eval()  # GoogLeNet's auxiliary heads do not run; MACs are the same otherwise
    start = time.perf_counter()
    s = summary(model, input_size)
    print(f'  {name} {kwargs or ""}: {s.total_params:,} params, {s.total_macs / 1e9:.3f} GMACs '
          f'({time.perf_counter() - start:.1f} s)', file=sys.stderr, flush=True)
    return s


def diff(ours, theirs):
    return f'{(ours - theirs) / theirs * 100:+.2f}%'


def g(macs):
    return f'{macs / 1e9:.3f}'


def rounds_to(ours, published, decimals):
    return round(ours, decimals) == round(published, decimals)


def table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join('---' for _ in header) + '|']
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


# ---------------------------------------------------------------- sections

def torchvision_section(ref, cache):
    tv = ref['torchvision_224']
    rows = []
    for name, pub in tv.items():
        if name.startswith('_'):
            continue
        kwargs = {'aux_logits': False} if name == 'googlenet' else {}
        s = cache(name, **kwargs)
        gm = s.total_macs / 1e9
        if s.total_params == pub['params'] and rounds_to(gm, pub['gmacs'], 2):
            note = 'same parameters; MACs equal after rounding to the 2 decimals published'
        else:
            note = 'differs: see below'
        if name == 'googlenet':
            note += ' (built with aux_logits=False, as torchvision counts it)'
        rows.append([name, f'{s.total_params:,}', f'{pub["params"]:,}',
                     f'{s.total_params - pub["params"]:+,}', g(s.total_macs),
                     f'{pub["gmacs"]:.2f}', diff(gm, pub['gmacs']), note])
    return ('## torchvision\'s table (224x224, 1000 classes)\n\n'
            f'Source: {tv["_source"]}. {tv["_note_units"]}.\n\n'
            + table(['model', 'params (minidl)', 'params (torchvision)', 'Δ params',
                     'GMACs (minidl)', 'GMACs (torchvision)', 'Δ MACs', 'notes'], rows))


def resnet_paper_section(ref, cache):
    paper, recount = ref['resnet_paper_table1'], ref['resnet_paper_layout_recount']
    rows = []
    for name, pub in paper.items():
        if name.startswith('_'):
            continue
        bottleneck = name not in ('resnet18', 'resnet34')
        tv = cache(name)
        if not bottleneck:
            note = ('basic blocks have no 1x1 conv: torchvision\'s layout is the paper\'s; '
                    f'the paper prints {tv.total_macs / 1e9:.2f} to 2 significant digits'
                    + (' (rounded down)' if round(tv.total_macs / 1e9, 1) != pub['gmacs'] else ''))
            rows.append([name, 'paper = torchvision', g(tv.total_macs), '', f'{pub["gmacs"]:.1f}',
                         diff(tv.total_macs / 1e9, pub['gmacs']), note])
            continue
        s = cache(name, stride_in_1x1=True)
        gm = s.total_macs / 1e9
        extra = tv.total_macs - s.total_macs
        note = (f'paper layout (stride 2 on the first 1x1 of each downsampling bottleneck) '
                f'matches the recount {recount[name]["gmacs"]} '
                f'({diff(gm, recount[name]["gmacs"])}); the paper prints it to 2 significant '
                f'digits{" (rounded down)" if round(gm, 1) != pub["gmacs"] else ""}. '
                f'torchvision v1.5 strides the 3x3 instead: its 3x3 conv runs on the 4x larger '
                f'map, +{extra / 1e9:.3f} G, hence {tv.total_macs / 1e9:.2f}')
        rows.append([name, 'paper (stride_in_1x1=True)', g(s.total_macs),
                     g(tv.total_macs), f'{pub["gmacs"]:.1f}', diff(gm, pub['gmacs']), note])
    return ('## ResNet paper, Table 1\n\n'
            f'Source: {paper["_source"]}\n\n'
            + table(['model', 'layout counted', 'GMACs (minidl)', 'GMACs torchvision v1.5 layout',
                     'GMACs (paper)', 'Δ', 'notes'], rows))


def mobilenet_section(ref, cache):
    t8 = ref['mobilenet_paper_table8']
    rows = []
    for key, name in (('mobilenet_v1_1.0_224', 'mobilenet_v1'), ('googlenet', 'googlenet'),
                      ('vgg16', 'vgg16')):
        pub = t8[key]
        s = cache(name, **({'aux_logits': False} if name == 'googlenet' else {}))
        mm = s.total_macs / 1e6
        if name == 'mobilenet_v1':
            note = 'the same network: equal after rounding (parameters printed as 4.2 M)'
        elif name == 'googlenet':
            branch3 = sum(r.macs for r in s.rows if '.branch3.1.conv' in r.path)
            paper = s.total_macs + branch3 * (25 - 9) // 9
            note = (f'torchvision\'s GoogLeNet (counted here) has a 3x3 conv where the paper\'s '
                    f'branch3 has a 5x5; with 5x5 kernels there it would be {paper / 1e6:,.0f} M '
                    f'MACs. Parameters: batch norm instead of LRN and a different stem and '
                    f'auxiliary layout make the paper\'s 6.8 M')
        else:
            fc = sum(r.macs for r in s.rows if r.type == 'Linear')
            note = (f'Table 8\'s figure matches the convolutions alone '
                    f'({(s.total_macs - fc) / 1e6:,.0f} M); the three fully-connected layers add '
                    f'{fc / 1e6:,.0f} M')
        rows.append([name, f'{s.total_params / 1e6:.2f}', f'{pub["million_params"]}',
                     f'{mm:,.0f}', f'{pub["million_mult_adds"]:,}',
                     diff(mm, pub['million_mult_adds']), note])
    return ('## MobileNet paper, Table 8\n\n'
            f'Source: {t8["_source"]}\n\n'
            + table(['model', 'M params (minidl)', 'M params (paper)', 'M MACs (minidl)',
                     'M mult-adds (paper)', 'Δ MACs', 'notes'], rows))


def inception_section(ref):
    ex = ref['inception_bottleneck_example']
    direct = summary(nn.Conv2d(100, 96, 5, padding=2), (1, 100, 28, 28))
    two = summary(nn.Sequential(nn.Conv2d(100, 64, 1), nn.Conv2d(64, 96, 5, padding=2)),
                  (1, 100, 28, 28))
    rows = [['5x5 conv, 100 -> 96 channels', f'{direct.total_macs:,}',
             f'{ex["conv5x5_100_to_96_28x28_macs"]:,}',
             diff(direct.total_macs, ex['conv5x5_100_to_96_28x28_macs']), '28*28*96 * 100*5*5'],
            ['1x1 conv, 100 -> 64 (bottleneck)', f'{two.row("0").macs:,}',
             f'{ex["conv1x1_100_to_64_28x28_macs"]:,}',
             diff(two.row('0').macs, ex['conv1x1_100_to_64_28x28_macs']), '28*28*64 * 100'],
            ['then 5x5 conv, 64 -> 96', f'{two.row("1").macs:,}',
             f'{ex["conv5x5_64_to_96_28x28_macs"]:,}',
             diff(two.row('1').macs, ex['conv5x5_64_to_96_28x28_macs']), '28*28*96 * 64*5*5'],
            ['bottleneck total', f'{two.total_macs:,}', f'{ex["with_bottleneck_total_macs"]:,}',
             diff(two.total_macs, ex['with_bottleneck_total_macs']),
             f'{two.total_macs / direct.total_macs:.1%} of the direct 5x5']]
    return ('## The lessons\' Inception example (one branch on a 28x28 map)\n\n'
            f'Source: {ex["_source"]}\n\n'
            + table(['layer', 'MACs (minidl)', 'MACs (notes)', 'Δ', 'notes'], rows))


# Model-specific settings for the table of unpublished models: LeNet-5 is a 10-class
# network on 28x28 images; the paper's AlexNet splits conv2/4/5 over two GPUs (groups=2).
UNPUBLISHED_SETTINGS = {'lenet5': dict(num_classes=10), 'lenet5_bn': dict(num_classes=10),
                        'alexnet_2012': dict(grouped=True)}


def unpublished_section(ref, cache, names):
    rows = []
    for name in names:
        size = (1, 1, 28, 28) if name.startswith('lenet') else INPUT
        settings = UNPUBLISHED_SETTINGS.get(name, {})
        s = cache(name, input_size=size, **settings)
        shown = ', '.join(f'{k}={v}' for k, v in settings.items())
        rows.append([name + (f' ({shown})' if shown else ''), 'x'.join(str(d) for d in size),
                     f'{s.total_params:,}',
                     g(s.total_macs) if s.total_macs > 1e7 else f'{s.total_macs:,}'])
    alex = ref['alexnet_paper']
    return ('## Models without a published MAC count in shared/reference\n\n'
            f'(AlexNet paper: about {alex["params_million"]} M parameters. The '
            '`alexnet_2012 (grouped=True)` row is the paper\'s two-tower layout, whose grouped '
            'conv2/conv4/conv5 give its 61 M; without grouping the same layers hold 62.4 M. The '
            '`alexnet` rows above are torchvision\'s one-tower variant.)\n\n'
            + table(['model', 'input', 'params', 'GMACs (or MACs)'], rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=str(HERE / 'results' / 'flops.md'))
    args = parser.parse_args(argv)
    if not REFERENCE.is_file():
        sys.exit(f'{Path(__file__).name}: the published figures are not here: {REFERENCE} '
                 f'(the shared/ folder beside the minidl checkout holds them)')
    ref = json.loads(REFERENCE.read_text())
    minidl.manual_seed(0)
    counted = {}

    def cache(name, input_size=INPUT, **kwargs):
        key = (name, input_size, tuple(sorted(kwargs.items())))
        if key not in counted:
            counted[key] = count(name, input_size, **kwargs)
        return counted[key]

    start = time.perf_counter()
    sections = [torchvision_section(ref, cache), resnet_paper_section(ref, cache),
                mobilenet_section(ref, cache), inception_section(ref)]
    published = {n for sec in ('torchvision_224',) for n in ref[sec]} | {'mobilenet_v1'}
    rest = [n for n in models.list_models() if n not in published]
    sections.append(unpublished_section(ref, cache, rest))
    text = '\n\n'.join(
        ['# Parameters and multiply-adds against the published figures',
         'Produced by `python benchmarks/flops.py`: one forward pass per model (input '
         '1x3x224x224, LeNet-5 1x1x28x28), counted by `minidl.profile.summary` from the '
         f'operators\' own cost rules. Conventions: {CONVENTIONS}. GMACs = 10^9 MACs. '
         f'Total time {time.perf_counter() - start:.0f} s on this machine\'s CPU.']
        + sections) + '\n'
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == '__main__':
    main()
