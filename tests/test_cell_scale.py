"""Issue 25: the notebooks' export cells stay at the anchors' scale (fastcore, nbdev): one definition per export cell,
no export cell over 60 lines, one-line docstrings of at most 200 characters."""
import ast, json, re
from pathlib import Path
import pytest

NBS = sorted((Path(__file__).parent.parent/'nbs').glob('*.ipynb'))
EXPORT = re.compile(r'^#\|\s*export[si]?\b', re.M)
DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
MAX_LINES, MAX_DOC = 60, 200

def cell_problems(nb:Path) -> list[str]:
    "What breaks the scale rules in notebook `nb`'s export cells, one string per finding."
    out = []
    for i, c in enumerate(json.loads(nb.read_text(encoding='utf-8'))['cells']):
        s = ''.join(c['source'])
        if c['cell_type'] != 'code' or not EXPORT.search(s): continue
        t = ast.parse(s)
        if len(names := [n.name for n in t.body if isinstance(n, DEFS)]) > 1: out.append(f'cell {i}: {len(names)} definitions {names}')
        if (n := sum(not l.startswith('#|') for l in s.splitlines())) > MAX_LINES: out.append(f'cell {i}: {n} lines')
        for d in ast.walk(t):
            doc = ast.get_docstring(d) if isinstance(d, DEFS) else None
            if doc and (len(doc) > MAX_DOC or '\n' in doc.strip()): out.append(f'cell {i}: docstring of {d.name}, {len(doc)} characters')
    return out

def test_found_notebooks(): assert len(NBS) > 20

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_export_cells_at_scale(nb): assert not cell_problems(nb), f"{nb.name}: {cell_problems(nb)}"

def test_rules_find_each_problem(tmp_path):
    "A notebook with one cell of each problem gets one finding each; a good cell gets none."
    cells = ['#| export\ndef a(): pass\ndef b(): pass', '#| export\ndef c():\n' + '    x = 1\n'*61,
             '#| export\ndef d():\n    "' + 'x'*201 + '"', '#| export\ndef e():\n    "fine"\n    return 1', 'def f(): pass\ndef g(): pass']
    nb = tmp_path/'t.ipynb'
    nb.write_text(json.dumps({'cells': [{'cell_type': 'code', 'source': s} for s in cells]}))
    found = cell_problems(nb)
    assert [f.split(':')[0] for f in found] == ['cell 0', 'cell 1', 'cell 2'], found
