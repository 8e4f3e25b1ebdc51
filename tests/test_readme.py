"""The README's Python examples run as written."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / 'README.md'
BLOCKS = re.findall(r'```python\n(.*?)```', README.read_text(encoding='utf-8'), re.S)


@pytest.mark.cpu_only
@pytest.mark.parametrize('index', range(len(BLOCKS)))
def test_readme_python_block_runs(index):
    exec(compile(BLOCKS[index], f'README.md python block {index}', 'exec'), {})


def test_readme_has_the_two_quick_start_commands():
    quick = README.read_text(encoding='utf-8').split('## Quick start', 1)[1].split('\n## ', 1)[0]
    commands = re.findall(r'```bash\n(.*?)```', quick, re.S)
    assert len(commands) == 2
    assert 'minidl train' in commands[0] and 'pytest' in commands[1]


def test_ci_runs_the_readme_test_command():
    quick = README.read_text(encoding='utf-8').split('## Quick start', 1)[1].split('\n## ', 1)[0]
    test_command = re.findall(r'```bash\n(.*?)```', quick, re.S)[1].strip()
    ci = (README.parent / '.ci' / 'run').read_text(encoding='utf-8')
    assert test_command in ci
