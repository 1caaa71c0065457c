"The package's import graph follows the floors declared once in layers.txt: no import of a higher module, no circle, no unlisted module."
import ast, re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT/'aigfd'
# imports against the order still in the code, each to be removed with its fix (issue 25); the tests fail on any other one, and on
# one listed here that is gone, so that this list only shrinks
KNOWN = set()
CMD = re.compile(r'^aigfd\.(\w+):\w+$')  # lazy 'aigfd.module:function' strings (the CLI named two commands so until issue 25): none may slip past

def layers() -> list:
    "Module names of layers.txt, lowest first."
    return [l.split('#')[0].strip() for l in (ROOT/'layers.txt').read_text().splitlines() if l.split('#')[0].strip()]

def modules() -> list:
    return sorted(p.stem for p in PKG.glob('*.py') if not p.stem.startswith('_'))

def imports(src:str, me:str) -> set:
    "aigfd modules that `src` imports: module-level and function-local, `from .x`, `from aigfd.x`, `import aigfd.x`, `from aigfd import x`, 'aigfd.x:f' commands."
    out = set()
    for n in ast.walk(ast.parse(src)):
        if isinstance(n, ast.ImportFrom):
            mod = n.module or ''
            if n.level: mod = 'aigfd' + ('.' + mod if mod else '')
            if mod == 'aigfd': out |= {a.name for a in n.names}
            elif mod.startswith('aigfd.'): out.add(mod.split('.')[1])
        elif isinstance(n, ast.Import): out |= {a.name.split('.')[1] for a in n.names if a.name.startswith('aigfd.')}
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and (m := CMD.match(n.value)): out.add(m.group(1))
    return out - {me}

def _dynamic(src:str) -> list:
    "Calls such as `importlib.import_module(f'aigfd.{name}')`, whose target cannot be checked."
    bad = []
    for n in ast.walk(ast.parse(src)):
        if isinstance(n, ast.Call) and getattr(n.func, 'attr', getattr(n.func, 'id', None)) == 'import_module' and n.args:
            a = n.args[0]
            if isinstance(a, ast.JoinedStr) and a.values and isinstance(a.values[0], ast.Constant) and str(a.values[0].value).startswith('aigfd'):
                bad.append(ast.unparse(n))
    return bad

def graph() -> dict:
    return {m: imports((PKG/f'{m}.py').read_text(encoding='utf-8'), m) for m in modules()}

def circles(g:dict) -> list:
    "Strongly connected components of more than one module (Tarjan)."
    idx, low, stack, on, out, k = {}, {}, [], set(), [], [0]
    def visit(v):
        idx[v] = low[v] = k[0]; k[0] += 1; stack.append(v); on.add(v)
        for w in g.get(v, ()):
            if w not in g: continue
            if w not in idx: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], idx[w])
        if low[v] == idx[v]:
            c = []
            while True:
                w = stack.pop(); on.discard(w); c.append(w)
                if w == v: break
            if len(c) > 1: out.append(sorted(c))
    for v in g:
        if v not in idx: visit(v)
    return out

def test_imports_parsed():
    "The parser sees every form of import the package uses (a test of the test)."
    src = ("from .core import a\nfrom aigfd.gmm import b\nimport aigfd.data\nfrom aigfd import model\n"
           "def f():\n    from aigfd.demo import _pre\n    return 'aigfd.train:aigfd_train'\n")
    assert imports(src, 'x') == {'core', 'gmm', 'data', 'model', 'demo', 'train'}
    assert _dynamic("import importlib\nimportlib.import_module(f'aigfd.{n}')") != []
    assert circles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [['a', 'b', 'c']]

def test_every_module_listed():
    L = layers()
    assert len(L) == len(set(L)), f"layers.txt lists a module twice: {sorted(m for m in L if L.count(m) > 1)}"
    assert set(modules()) == set(L), f"modules not in layers.txt: {sorted(set(modules()) - set(L))}; listed but absent: {sorted(set(L) - set(modules()))}"

def test_no_dynamic_imports():
    bad = {m: _dynamic((PKG/f'{m}.py').read_text(encoding='utf-8')) for m in modules()}
    bad = {k: v for k, v in bad.items() if v and f'{k} imports by name' not in KNOWN}
    assert not bad, f"imports of aigfd modules by a computed name (not checkable): {bad}"

def test_no_circles():
    g = {m: {d for d in ds if f'{m} imports {d}' not in KNOWN} for m, ds in graph().items()}
    assert not (c := circles(g)), f"import circles: {c}"

def test_imports_go_down():
    rank = {m: i for i, m in enumerate(layers())}
    up = sorted(f"{m} imports {d}" for m, ds in graph().items() for d in ds if d in rank and m in rank and rank[d] > rank[m])
    new, fixed = set(up) - KNOWN, {k for k in KNOWN if 'by name' not in k} - set(up)
    assert not new, "imports of a module above the importer (layers.txt):\n" + '\n'.join(sorted(new))
    assert not fixed, f"fixed, so remove from KNOWN in this file: {sorted(fixed)}"
