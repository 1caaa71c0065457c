"""`.ci/outputs.py`: notebooks committed with their outputs. Saving keeps what the code as committed shows (a figure, a widget's
still image) and refuses noise; CI's check fails where a cell with a committed figure no longer runs or no longer makes one."""
import json, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3]);"

def _nb(*sources):
    cells = [dict(cell_type='code', id=f'c{i}', metadata={}, execution_count=None, outputs=[], source=s) for i, s in enumerate(sources)]
    return dict(nbformat=4, nbformat_minor=5, metadata={}, cells=[dict(cell_type='markdown', id='t', metadata={}, source='# T')] + cells)

@pytest.fixture
def project(tmp_path):
    (tmp_path/'pyproject.toml').write_text('[tool.nbdev]\nlib_path = "lib"\nnbs_path = "nbs"\ntst_flags = "slow"\njupyter_hooks = false\n')
    (tmp_path/'nbs').mkdir(); (tmp_path/'lib').mkdir()
    return tmp_path/'nbs'

def _run(*args):
    return subprocess.run([sys.executable, str(ROOT/'.ci'/'outputs.py'), *map(str, args)], capture_output=True, text=True, timeout=600)

def test_save_then_check(project):
    nb = project/'t.ipynb'
    nb.write_text(json.dumps(_nb("x = 6*7\nx", PLOT, "#| slow\nprint('slow')")))
    assert _run('has', nb).returncode == 1
    r = _run('save', nb); assert r.returncode == 0, r.stdout + r.stderr
    cells = json.loads(nb.read_text())['cells']
    assert cells[1]['outputs'][0]['data']['text/plain'] in ('42', ['42'])
    assert any('image/png' in o.get('data', {}) for o in cells[2]['outputs'])
    assert cells[3]['outputs'] == []                                           # a slow cell keeps no output, as nbdev-test skips it
    assert _run('has', nb).returncode == 0
    r = _run('check', nb); assert r.returncode == 0, r.stdout + r.stderr
    d = json.loads(nb.read_text()); d['cells'][2]['source'] = "import matplotlib.pyplot as plt\nnothing = 0"   # the figure's code changed
    nb.write_text(json.dumps(d))
    r = _run('check', nb)
    assert r.returncode != 0 and 'committed figures no longer produced by cell 2 (id c1)' in r.stdout + r.stderr
    d['cells'][2]['source'] = "raise ValueError('broken')"                 # the figure's cell no longer runs
    nb.write_text(json.dumps(d))
    r = _run('check', nb); assert r.returncode != 0 and 'broken' in r.stdout + r.stderr

def test_save_refuses_noise(project):
    nb = project/'w.ipynb'
    nb.write_text(json.dumps(_nb("import warnings; warnings.warn('looks like an error')")))
    r = _run('save', nb)
    assert r.returncode != 0 and 'prints on stderr' in r.stdout + r.stderr and 'looks like an error' in r.stdout + r.stderr
    assert json.loads(nb.read_text())['cells'][1]['outputs'] == []            # nothing written
    nb.write_text(json.dumps(_nb("import sys\nfor i in (1, 2): print(f'files: {i}/2 ({50*i} %), 0 s', file=sys.stderr)")))
    assert _run('save', nb).returncode == 0                                    # `track`'s plain progress lines: a bar in JupyterLab, not kept
    assert json.loads(nb.read_text())['cells'][1]['outputs'] == []

def test_save_refuses_temporary_paths(project):
    "A path under the temporary folder in a saved output (issue 24): refused, nothing written."
    import tempfile
    nb = project/'p.ipynb'
    nb.write_text(json.dumps(_nb(f"print({tempfile.gettempdir() + '/tmpabc123/face.png'!r} + ': unreadable')")))
    r = _run('save', nb)
    assert r.returncode != 0 and 'temporary path' in r.stdout + r.stderr
    assert json.loads(nb.read_text())['cells'][1]['outputs'] == []
