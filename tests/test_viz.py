import minidl
from minidl.viz import to_dot


def test_dot_names_ops_shapes_and_leaves():
    a = minidl.randn(2, 3, requires_grad=True)
    w = minidl.randn(3, 4, requires_grad=True)
    out = (a @ w).relu()
    dot = to_dot(out, params={'a': a, 'w': w})
    assert dot.startswith('digraph minidl {') and dot.rstrip().endswith('}')
    assert 'ReLUBackward' in dot and dot.count('Backward\\n') == 2
    assert '(2, 4) float32' in dot
    assert 'a\\n(2, 3) float32' in dot and 'w\\n(3, 4) float32' in dot


def test_dot_of_leaf_has_no_ops():
    dot = to_dot(minidl.ones(2))
    assert 'Backward' not in dot
