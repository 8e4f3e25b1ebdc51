"""`minidl summary MODEL ...` through main_summary(argv)."""
import pytest

from minidl.profile.cli import main_summary, parse_shape
from minidl.profile import CONVENTIONS

pytestmark = pytest.mark.cpu_only


def test_prints_a_table(capsys):
    assert main_summary(['lenet5', '--input', '2,1,28,28', '--backward',
                         '--num-classes', '10']) == 0
    out = capsys.readouterr().out
    assert 'LeNet5' in out and 'Conv2d' in out and 'Bwd dX FLOPs' in out
    assert 'Total params: 61,706' in out
    assert CONVENTIONS in out


def test_depth_folds_the_table(capsys):
    main_summary(['resnet18', '--input', '1,3,32,32', '--depth', '1', '--num-classes', '10'])
    out = capsys.readouterr().out
    assert 'layer1' in out and 'conv2' not in out
    assert 'Total params: 11,181,642' in out


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(SystemExit, match='unknown model'):
        main_summary(['resnet7'])
    with pytest.raises(SystemExit, match='--input'):
        parse_shape('1,3,a')
    assert parse_shape('1x3x224x224') == (1, 3, 224, 224)
