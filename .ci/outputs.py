"""Notebooks committed with their outputs: save them from the code as committed, and check in CI that they still come out.

    python .ci/outputs.py save nbs/01_exif.ipynb ...   # run the cells nbdev-test runs, keep their outputs, nbdev-clean
    python .ci/outputs.py check nbs/01_exif.ipynb      # CI, instead of nbdev-test: run the same cells, fail on an error or
                                                        # where a cell with a committed figure no longer makes one
    python .ci/outputs.py has nbs/01_exif.ipynb        # exit 0 if the notebook carries committed outputs
    python .ci/outputs.py time nbs/01_exif.ipynb       # Run All as JupyterLab does it (slow cells too): seconds, slow cells apart

Both run exactly the cells `nbdev-test` runs (cells flagged with `tst_flags`, `#| slow` and `#| gpu`, are skipped: they keep
no output), with figures as plain PNG (not retina). Saving keeps a reader's view lean and quiet: widget outputs keep the
static PNG snapshot beside them (the live widget needs a kernel; Run All redraws it), no stderr or error output is saved
(a warning a student would read as an error fails the save), no temporary path may show, and no single output may exceed 300 KB (a photo-heavy PNG is stored with 256 colours, and smaller if it must)."""
import json, os, re, sys, tempfile, time
from pathlib import Path

MAX_OUT = 300_000
TMP = os.path.join(tempfile.gettempdir(), '')  # a path under it in a saved output is a reader's puzzle and changes on every save
WIDGET = 'application/vnd.jupyter.widget-view+json'
IMAGES = ('image/png', 'image/jpeg', 'image/svg+xml')

def _run(fn, force=(), times=None):
    "Run the cells nbdev-test would run in notebook `fn` (and those flagged `force`); returns {cell id: outputs} and the error text (or None)."
    from nbdev.config import get_config
    from nbdev.process import NBProcessor
    from nbdev.test import _skip_cell
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    fn = Path(fn).resolve()
    cfg = get_config(fn.parent)
    flags = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags or [])
    nb = NBProcessor(fn, rm_directives=False, process=True).nb
    skip = _skip_cell(nb, flags, list(force))
    os.environ['IN_TEST'] = '1'
    k = CaptureShell(fn, mpl_format='png')
    k.run_cell("import matplotlib as _mpl; _mpl.rcParams.update({'figure.dpi': 80, 'savefig.dpi': 80})")
    err = None
    try:
        with working_directory(fn.parent):
            post = (lambda c: times.append((c.idx_, c.source.startswith('#| slow'), c.metadata['execution']['total']))) if times is not None else (lambda c: None)
            k.run_all(nb, exc_stop=True, preproc=skip, postproc=post, cell_timeout=int(cfg.get('cell_timeout', 600)))
    except BaseException: err = k.prettytb(fname=fn) or 'error'
    return {c.id: [dict(o) for o in c.get('outputs', [])] for c in nb.cells if c.cell_type == 'code' and not skip(c)}, err

def _jsonable(o):
    "An execnb output (fastcore AttrDict, lists of lines) as plain nbformat JSON."
    return json.loads(json.dumps(o, default=lambda x: dict(x) if hasattr(x, 'keys') else list(x)))

def _has_image(outs): return any(m in o.get('data', {}) for o in outs for m in IMAGES)

PROGRESS = re.compile(r'^[\w .-]+: \d+/\d+ \(\d+ %\), \d+ s\n?$')  # `aigfd.core.track` outside a notebook: a bar in JupyterLab

def _smaller_png(b64):
    "A photo-heavy figure as a lighter PNG: 256 colours, then smaller until it fits (base64 text in and out)."
    import base64, io
    from PIL import Image
    im = Image.open(io.BytesIO(base64.b64decode(''.join(b64) if isinstance(b64, list) else b64))).convert('RGB')
    for scale in (1, .85, .7, .55, .4):
        sm = im if scale == 1 else im.resize((round(im.width*scale), round(im.height*scale)), Image.LANCZOS)
        buf = io.BytesIO(); sm.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(buf, 'png', optimize=True)
        out = base64.b64encode(buf.getvalue()).decode()
        if len(out) < MAX_OUT - 2000: break
    return out

def _lean(o, where):
    "A saved output as a docs reader should see it (None: nothing to keep): a widget as its snapshot; refuse stderr, errors and big outputs."
    if o['output_type'] == 'stream' and o.get('name') == 'stderr':
        text = ''.join(o['text']) if isinstance(o['text'], list) else o['text']
        if all(PROGRESS.match(l) for l in text.splitlines(keepends=True)): return None
        raise SystemExit(f"FAIL: {where}: prints on stderr (a student reads it as an error; fix its cause): {''.join(o['text'])[:300]!r}")
    if o['output_type'] == 'error': raise SystemExit(f"FAIL: {where}: raised {o.get('ename')}: {o.get('evalue')}")
    d = o.get('data', {})
    if WIDGET in d:
        if not any(m in d for m in IMAGES): raise SystemExit(f"FAIL: {where}: a widget without a static image in its bundle")
        o['data'] = {m: v for m, v in d.items() if m != WIDGET}
    o.pop('transient', None)
    if 'image/png' in o.get('data', {}) and len(json.dumps(o)) > MAX_OUT: o['data']['image/png'] = _smaller_png(o['data']['image/png'])
    if TMP in json.dumps(o): raise SystemExit(f"FAIL: {where}: shows a temporary path ({TMP}...): print names relative to their folder")
    n = len(json.dumps(o))
    if n > MAX_OUT: raise SystemExit(f"FAIL: {where}: an output of {n//1000} KB (at most {MAX_OUT//1000} KB: lower the dpi or the size)")
    return o

def save(fn):
    fn = Path(fn)
    t0 = time.time()
    outs, err = _run(fn)
    if err: raise SystemExit(f"FAIL: {fn} does not run, outputs not saved:\n{err}")
    raw = json.loads(fn.read_text())
    for i, c in enumerate(raw['cells']):
        if c['cell_type'] != 'code': continue
        c['outputs'] = [o for o in (_lean(_jsonable(o), f'{fn} cell {i} (id {c.get("id")})') for o in outs.get(c.get('id'), [])) if o]
    fn.write_text(json.dumps(raw, indent=1, ensure_ascii=False) + '\n')
    import subprocess; subprocess.run(['nbdev-clean', '--fname', str(fn)], check=True)  # as committed: CI checks that nbdev-clean changes nothing
    n = sum(len(c.get('outputs', [])) for c in raw['cells'] if c['cell_type'] == 'code')
    print(f"{fn}: {n} outputs saved ({sum(_has_image(c.get('outputs', [])) for c in raw['cells'] if c['cell_type'] == 'code')} "
          f"cells with figures) in {time.time() - t0:.0f} s")

def has(fn): return any(c['cell_type'] == 'code' and c.get('outputs') for c in json.loads(Path(fn).read_text())['cells'])

def check(fn):
    fn = Path(fn)
    t0 = time.time()
    raw = json.loads(fn.read_text())
    tmp = [f"cell {i} (id {c.get('id')})" for i, c in enumerate(raw['cells']) if c['cell_type'] == 'code' and TMP in json.dumps(c.get('outputs', []))]
    if tmp: raise SystemExit(f"FAIL: {fn}: committed outputs show a temporary path ({TMP}...) in {', '.join(tmp)}: print names relative to their folder, then save")
    outs, err = _run(fn)
    if err: print(err); raise SystemExit(f"FAIL: {fn}: a cell raised (see above)")
    bad = [f"cell {i} (id {c.get('id')})" for i, c in enumerate(raw['cells'])
           if c['cell_type'] == 'code' and _has_image(c.get('outputs', [])) and not _has_image(outs.get(c.get('id'), []))]
    if bad: raise SystemExit(f"FAIL: {fn}: committed figures no longer produced by {', '.join(bad)}")
    print(f"{fn}: runs, every committed figure produced again ({time.time() - t0:.0f} s)")

def time_all(fn):
    "Seconds of Run All (slow cells included), without and with the slow cells, and the slowest cells."
    times = []
    t0 = time.time()
    _, err = _run(fn, force=('slow',), times=times)
    if err: print(err); raise SystemExit(f"FAIL: {fn}: a cell raised")
    slow = sum(t for _, s, t in times if s)
    print(f"{fn}: Run All {time.time() - t0:.0f} s wall (cells {sum(t for *_, t in times):.0f} s: {slow:.0f} s in the slow cells); "
          "slowest: " + ', '.join(f"cell {i}{' (slow)' if s else ''} {t:.0f} s" for i, s, t in sorted(times, key=lambda x: -x[2])[:4]))

if __name__ == '__main__':
    cmd, files = sys.argv[1], sys.argv[2:]
    if cmd == 'has': sys.exit(0 if has(files[0]) else 1)
    for f in files: {'save': save, 'check': check, 'time': time_all}[cmd](f)
