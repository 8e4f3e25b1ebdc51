"""The text table of a ModelSummary, in the spirit of torchinfo's."""

CONVENTIONS = ('MACs of conv + linear are what torchvision and the papers print as FLOPs; '
               'FLOPs = 2 x MACs plus elementwise work')

MB = 10 ** 6  # decimal megabytes, the unit of the published PyTorch figures


def human(n):
    """A count with a unit prefix: 1,819,066,368 -> '1.82G', 9,408 -> '9.41k'."""
    for unit, scale in (('G', 1e9), ('M', 1e6), ('k', 1e3)):
        if abs(n) >= scale:
            return f'{n / scale:.3g}{unit}' if abs(n) < 100 * scale else f'{n / scale:.1f}{unit}'
    return str(int(n))


def megabytes(nbytes):
    """Bytes in the unit that suits them: '512 B', '3.07 kB', '44.69 MB', '1.20 GB'."""
    for unit, scale in (('GB', 1e9), ('MB', MB), ('kB', 1e3)):
        if nbytes >= scale:
            return f'{nbytes / scale:,.2f} {unit}'
    return f'{int(nbytes)} B'


def _shape(shape):
    if shape is None:
        return ''
    if isinstance(shape, list):
        return ', '.join(_shape(s) for s in shape)
    return '[' + ', '.join(str(d) for d in shape) + ']'


def _dash(n):
    return human(n) if n else '--'


def format_summary(s):
    header = ['Layer', 'Type', 'Output shape', 'Params', 'MACs', 'Fwd FLOPs']
    if s.backward:
        header += ['Bwd dX FLOPs', 'Bwd dW FLOPs', 'Saved']
    body = []
    for r in s.rows:
        name = '  ' * r.depth + (r.path.rsplit('.', 1)[-1] if r.path else s.model_name)
        cells = [name, r.type, _shape(r.output_shape) if r.calls else '(not run)',
                 f'{r.params:,}' if r.params else '--', _dash(r.macs), _dash(r.forward_flops)]
        if s.backward:
            cells += [_dash(r.backward_input_flops), _dash(r.backward_weight_flops),
                      megabytes(r.saved_bytes) if r.saved_bytes else '--']
        body.append(cells)
    widths = [max(len(str(c)) for c in column) for column in zip(header, *body)]
    left = {0, 1, 2}

    def line(cells):
        return '  '.join(str(c).ljust(w) if i in left else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = '=' * max(len(line(header)), 60)
    out = [rule, line(header), rule] + [line(c) for c in body] + [rule]
    inputs = ', '.join(_shape(x) for x in s.input_shapes)
    out += [f'Input: {inputs} ({megabytes(s.input_bytes)})',
            f'Total params: {s.total_params:,}  trainable: {s.trainable_params:,}  '
            f'non-trainable: {s.total_params - s.trainable_params:,}  '
            f'({megabytes(s.param_bytes)})',
            f'MACs: {s.total_macs:,} ({human(s.total_macs)})  '
            f'forward FLOPs: {s.forward_flops:,} ({human(s.forward_flops)})']
    if s.backward:
        out += [f'Backward FLOPs: {s.backward_flops:,} ({human(s.backward_flops)}) = '
                f'input gradients {human(s.backward_input_flops)} + '
                f'weight gradients {human(s.backward_weight_flops)}',
                f'Saved for backward: {megabytes(s.saved_bytes)} '
                f'(de-duplicated by storage, parameters excluded; the input is '
                f'{"included: an operator saved it" if s.input_saved else "not saved"})',
                f'Largest scratch buffer of one operator: {megabytes(s.transient_bytes)}']
    if s.memory is not None:
        out += s.memory.lines()
    out += [rule,
            f'Conventions: {CONVENTIONS}.',
            'Each row holds its module\'s own parameters and the operators its own forward ran '
            '(a residual add or a concatenation is the container\'s); children have their own '
            'rows, so the columns add up to the totals.']
    if s.backward:
        out += ['Backward: one backward pass of the sum of the outputs; the input does not '
                'require grad, so the first layer computes no input gradient.']
    out += s.notes
    out.append(rule)
    return '\n'.join(out)
