"""The python examples of the RIDE, PaCo and MBJ pages run, and print
what the pages say they print."""
import contextlib
import io
import os.path as osp
import re

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def expected_output(code: str) -> list:
    """The whole-line comments that follow a ``print`` line: the output the
    page shows."""
    lines, shown, after_print = code.splitlines(), [], False
    for line in lines:
        stripped = line.strip()
        if after_print and stripped.startswith('# '):
            shown.append(stripped[2:])
            continue
        after_print = 'print(' in line or (after_print and
                                           line.startswith(' '))
    return shown


@pytest.mark.parametrize('page', ['ride.md', 'paco.md', 'mbj.md'])
def test_the_pages_example_runs_and_prints_what_it_shows(page):
    text = open(osp.join(ROOT, 'docs', page)).read()
    (code, ) = re.findall(r'```python\n(.*?)```', text, re.S)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f'docs/{page}', 'exec'), {})
    shown = expected_output(code)
    if shown:
        assert out.getvalue().splitlines() == shown
