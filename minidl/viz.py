"""Graph visualisation: the graph that produced a tensor, as Graphviz DOT text.

    print(minidl.viz.to_dot(loss))      # paste into `dot -Tpng` or an online viewer

Operators are boxes (``ConvBackward``), leaves that require grad are ellipses with
their shape and dtype; edges point from inputs to the operator that used them.
No Graphviz installation is needed to produce the text.
"""


def _label_of_shape(shape, dtype):
    return f'{tuple(shape)} {dtype}'


def to_dot(tensor, name='minidl', params=None):
    """DOT text of the graph behind ``tensor``.

    ``params``: optional mapping name -> Tensor (e.g. ``dict(model.named_parameters())``)
    used to label leaves.
    """
    names = {id(t): n for n, t in (params or {}).items()}
    lines = [f'digraph {name} {{', '  rankdir=BT;',
             '  node [fontname="Helvetica", fontsize=10];']
    ids = {}

    def node_id(obj):
        if id(obj) not in ids:
            ids[id(obj)] = f'n{len(ids)}'
        return ids[id(obj)]

    out_id = node_id(tensor)
    lines.append(f'  {out_id} [label="output\\n{_label_of_shape(tensor.shape, tensor.dtype)}", '
                 f'shape=ellipse, style=filled, fillcolor="#cfe2f3"];')
    if tensor.grad_fn is None:
        lines.append('}')
        return '\n'.join(lines)
    lines.append(f'  {node_id(tensor.grad_fn)} -> {out_id};')
    stack, seen = [tensor.grad_fn], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        shapes = ', '.join(_label_of_shape(s, d) for s, d in node.output_meta)
        lines.append(f'  {node_id(node)} [label="{node.name()}\\n{shapes}", shape=box, '
                     f'style=filled, fillcolor="#fce5cd"];')
        for edge in node.next_functions:
            if edge is None:
                continue
            if type(edge) is tuple:
                child = edge[0]
                lines.append(f'  {node_id(child)} -> {node_id(node)};')
                stack.append(child)
            else:  # a leaf tensor
                leaf = node_id(edge)
                label = names.get(id(edge), 'leaf')
                lines.append(f'  {leaf} [label="{label}\\n{_label_of_shape(edge.shape, edge.dtype)}", '
                             f'shape=ellipse];')
                lines.append(f'  {leaf} -> {node_id(node)};')
    lines.append('}')
    # a leaf used twice is declared twice: keep the first declaration of each line
    unique = list(dict.fromkeys(lines))
    return '\n'.join(unique)


__all__ = ['to_dot']
