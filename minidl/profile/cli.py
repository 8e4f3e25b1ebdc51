"""``minidl summary MODEL --input 1,3,224,224 [--backward] [--memory] [--num-classes N]``."""
import argparse
import os
import sys

from .summary import summary


def build_parser(parser=None):
    parser = parser or argparse.ArgumentParser(
        prog='minidl summary',
        description='Per-layer parameters, multiply-adds, FLOPs and bytes of a zoo model.')
    parser.add_argument('model', help='a name from `minidl models`, e.g. resnet50')
    parser.add_argument('--input', default='1,3,224,224',
                        help='input shape with the batch, comma-separated (default 1,3,224,224)')
    parser.add_argument('--backward', action='store_true',
                        help='also run backward: backward FLOPs and bytes saved for backward')
    parser.add_argument('--memory', action='store_true',
                        help='predicted and measured peak memory of one training step')
    parser.add_argument('--num-classes', type=int, default=None,
                        help='classifier outputs (default: the model\'s, 1000 for most)')
    parser.add_argument('--depth', type=int, default=None,
                        help='fold rows deeper than this into their parent')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    parser.add_argument('--train', action='store_true',
                        help='run the model in train mode (the default with --backward or '
                             '--memory; a forward-only summary runs in eval mode)')
    return parser


def parse_shape(text, parser):
    try:
        shape = tuple(int(d) for d in text.replace('x', ',').split(',') if d.strip())
    except ValueError:
        parser.error(f'--input must be integers like 1,3,224,224, got {text!r}')
    if not shape or any(d <= 0 for d in shape):
        parser.error(f'--input must be positive sizes, got {text!r}')
    return shape


def main_summary(argv=None):
    """Entry point of ``minidl summary``: prints the table and returns 0; a mistake (an
    unknown model, an input the model cannot take) is one line on stderr and status 2
    (``MINIDL_DEBUG=1`` shows the traceback instead)."""
    from .. import models
    from ..cli import ArgumentParser, DEBUG_ENV, one_line
    parser = build_parser(ArgumentParser(
        prog='minidl summary',
        description='Per-layer parameters, multiply-adds, FLOPs and bytes of a zoo model.'))
    args = parser.parse_args(argv)
    if args.model not in models.list_models():
        parser.error(f'unknown model {args.model!r}; known: {", ".join(models.list_models())}')
    shape = parse_shape(args.input, parser)
    kwargs = {} if args.num_classes is None else {'num_classes': args.num_classes}
    try:
        model = models.get_model(args.model, **kwargs)
        if not (args.train or args.backward or args.memory):
            model.eval()
        table = summary(model, shape, device=args.device, backward=args.backward,
                        memory=args.memory, depth=args.depth)
    except (ValueError, TypeError, RuntimeError) as err:   # the model refused the input
        if os.environ.get(DEBUG_ENV) == '1':
            raise
        print(f'minidl summary: error: {one_line(err)} (input {shape})', file=sys.stderr)
        return 2
    print(table)
    return 0
