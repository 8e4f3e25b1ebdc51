"""`minidl summary MODEL ...` through main_summary(argv)."""
import pytest

from minidl.profile.cli import build_parser, main_summary, parse_shape
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


def test_bad_arguments_say_what_is_wrong(capsys):
    """Each mistake is one line on stderr and status 2, as the other commands' are."""
    for argv, expected in ((['resnet7'], "unknown model 'resnet7'"),
                           (['lenet5', '--input', '1,3,a'], '--input must be integers'),
                           (['resnet18', '--input', '1,1,32,32'],
                            'conv1 (Conv2d): conv2d: input has 1 channels, weight expects 3'),
                           (['resnet18', '--input', '1,3,32,32', '--backward'],
                            'Expected more than 1 value per channel when training')):
        try:
            status = main_summary(argv)
        except SystemExit as exit_:
            status = exit_.code
        err = capsys.readouterr().err
        assert status == 2 and expected in err, (argv, status, err)
        assert len(err.strip().splitlines()) == 1, err
    parser = build_parser()
    assert parse_shape('1x3x224x224', parser) == (1, 3, 224, 224)
