"""Issue 27, 5: every write of `aigfd train` (checkpoints, history, final weights and config, loss curve) and of `aigfd demo`'s report
survives a full disk with one line naming the file, a non-zero exit and nothing half-written or temporary left; and no module of
the package writes a user-facing output straight to its final path."""
import ast, builtins, errno, io, os, re, shutil, subprocess
from pathlib import Path
import numpy as np, pandas as pd, pytest
from conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent

class _HalfFile:
    "A file that writes the first half of what it is given, then fails as a full disk does."
    def __init__(self, f, name): self._f, self._name = f, name
    def write(self, b):
        self._f.write(b[:max(len(b)//2, 1)]); self._f.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self._name)
    def __getattr__(self, k): return getattr(self._f, k)
    def __enter__(self): return self
    def __exit__(self, *a): self._f.close()

@pytest.fixture
def disk_full_for(monkeypatch):
    "`disk_full_for(name)`: from now on (until the next call), writing any file whose name contains `name` (its temporary name too) fails half-way with ENOSPC."
    names = []
    def hit(p):  # the file's name, or the name of its temporary file (`.NAME.PID-N.tmp.EXT`) with the temporary part taken out
        return isinstance(p, (str, os.PathLike)) and any(n in re.sub(r'^\.(.+)\.\d+-\d+\.tmp(\.\w+)$', r'\1\2', Path(p).name) for n in names)
    real_open = builtins.open
    def fake_open(file, mode='r', *a, **k):
        f = real_open(file, mode, *a, **k)
        return _HalfFile(f, str(file)) if hit(file) and any(c in mode for c in 'wax+') else f
    monkeypatch.setattr(builtins, 'open', fake_open); monkeypatch.setattr(io, 'open', fake_open)
    import aigfd.model
    real_sf = aigfd.model.save_file
    def fake_save_file(sd, path, *a, **k):  # safetensors writes from Rust: fail the same way
        if hit(path): Path(path).write_bytes(b'\0'*100); raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        return real_sf(sd, path, *a, **k)
    monkeypatch.setattr(aigfd.model, 'save_file', fake_save_file)
    def full_for(name): names[:] = [name]
    return full_for

def _one_error_naming(rc, err, path):
    lines = [l for l in err.splitlines() if ': error: ' in l]
    assert rc == 2 and len(lines) == 1 and f'{path}: cannot write it' in lines[0] and 'Traceback' not in err, err[-3000:]

def _nothing_half_written(d):
    left = [p for p in Path(d).rglob('*') if '.tmp' in p.name]
    assert not left, left
    for p in Path(d).rglob('*.csv'): pd.read_csv(p)

@pytest.fixture
def synthetic_train(monkeypatch):
    "`aigfd train` on the tiny synthetic batches of `aigfd.train.synthetic_dls` instead of the minibench."
    import aigfd.train as T
    monkeypatch.setattr(T, '_data', lambda cfg, kw: T.synthetic_dls(n=16, bs=8))
    return lambda out, epochs=1: run_cli('train', '--out', out, '--arch', 'resnet18', '--img-size', 32, '--epochs', epochs, '--budget-min', 0, '--threads', 2)

@pytest.mark.parametrize('target', ['config.json', 'history.csv', 'model_0.pth', 'model_1.pth', 'final.safetensors', 'final.json', 'loss_curve.png'])
def test_train_on_a_full_disk(target, synthetic_train, disk_full_for, tmp_path):
    out = tmp_path/'run'
    disk_full_for(target)
    rc, _, err = synthetic_train(out, epochs=2 if target == 'model_1.pth' else 1)
    path = out/'models'/target if target.startswith('model_') else out/target
    _one_error_naming(rc, err, path)
    assert not path.exists()
    _nothing_half_written(out)
    if target == 'model_1.pth':  # the epoch before is whole and resumable
        import torch
        assert set(torch.load(out/'models'/'model_0.pth', weights_only=False)) == {'model', 'opt'}

def _tmpfs(d, size='256k') -> bool:
    d.mkdir(parents=True, exist_ok=True)
    if os.environ.get('AIGFD_TEST_NO_MOUNT') or os.name != 'posix' or os.geteuid() != 0: return False
    return subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(d)], capture_output=True).returncode == 0

def test_checkpoint_on_a_really_full_disk(synthetic_train, tmp_path):
    "A real ENOSPC (a full tmpfs as the checkpoint folder): one line naming `models/model_0.pth`, nothing left in the folder."
    m = tmp_path/'run'/'models'
    if not _tmpfs(m): pytest.skip('needs a tmpfs mount (root)')
    try:
        (m/'.filler').write_bytes(b'\0'*(shutil.disk_usage(m).free - 4096))
        rc, _, err = synthetic_train(tmp_path/'run')
        _one_error_naming(rc, err, m/'model_0.pth')
        assert 'No space left on device' in err and [p.name for p in m.iterdir()] == ['.filler']
    finally: subprocess.run(['umount', '-l', str(m)])

def test_demo_on_a_full_disk(tmp_path):
    "`aigfd demo` into a folder on a full disk: its first output (config.json) is one line naming the file, before any work."
    d = tmp_path/'full'
    if not _tmpfs(d, '64k'): pytest.skip('needs a tmpfs mount (root)')
    try:
        (d/'.filler').write_bytes(b'\0'*shutil.disk_usage(d).free)
        rc, _, err = run_cli('demo', '--quick', '--out', d/'demo')
        _one_error_naming(rc, err, d/'demo'/'config.json')
        _nothing_half_written(d)
    finally: subprocess.run(['umount', '-l', str(d)])

@pytest.mark.parametrize('target', ['exif.csv', 'exif.png'])
def test_demo_report_outputs_on_a_full_disk(target, disk_full_for, tmp_path):
    "The demo's report writers (`_csv`, `_save_fig`, the others alike) on the EXIF step of the real minibench: `WriteError` naming the file, nothing left."
    from aigfd.core import WriteError
    from aigfd.minibench import minibench_path
    from aigfd.demo import _step_exif
    mb = minibench_path(None, must_exist=False)
    if mb is None: pytest.skip('no minibench')
    disk_full_for(target)
    with pytest.raises(WriteError, match=rf'{tmp_path/target}: cannot write it \(No space left on device\)'): _step_exif(tmp_path, {}, mb)
    assert not (tmp_path/target).exists()
    _nothing_half_written(tmp_path)

def test_write_results_on_a_full_disk(disk_full_for, tmp_path):
    from aigfd.core import WriteError
    from aigfd.repro import write_results
    sm = pd.DataFrame(dict(feature=['a'], metric=['auc'], generator=['mean'], value=[90.], lo=[88.], hi=[92.]))
    for target in ('results.json', 'results.csv'):
        disk_full_for(target)
        with pytest.raises(WriteError, match=rf'{target}: cannot write it'): write_results(tmp_path/'results.json', sm)
        assert not (tmp_path/target).exists()
        _nothing_half_written(tmp_path)

# ---- no direct writes of outputs to their final path ----

WRITERS = {'to_csv', 'to_json', 'write_text', 'write_bytes', 'savefig', 'savez', 'save_file'}
KNOWN = {('teach.py', 'p.write_bytes(bytes(content))')}  # an upload copied into a temporary directory to be read

def _direct_writes(src:str) -> list:
    "(line, call) of writer calls (`.to_csv(p)`, `p.write_text(...)`, `fig.savefig(p)`, `np.savez(p)`...) outside an `atomic_write` call whose target is not an in-memory buffer or a temporary file."
    found = []
    def visit(n, inside):
        if isinstance(n, ast.Call):
            f = n.func; name = f.attr if isinstance(f, ast.Attribute) else getattr(f, 'id', '')
            if name == 'atomic_write': inside = True
            elif name in WRITERS and not inside:
                target = f.value if name in ('write_text', 'write_bytes') else (n.args[0] if n.args else None)
                t = ast.unparse(target) if target is not None else ''
                if t and not re.search(r'\bbuf\b|BytesIO|tmp', t): found.append((n.lineno, ast.unparse(n)[:120]))
        for c in ast.iter_child_nodes(n): visit(c, inside)
    visit(ast.parse(src), False)
    return found

def test_no_output_written_straight_to_its_final_path():
    bad = []
    for py in sorted((ROOT/'aigfd').glob('*.py')):
        for line, call in _direct_writes(py.read_text()):
            if not any(py.name == m and k in call for m, k in KNOWN): bad.append(f'{py.name}:{line}: {call}')
    assert not bad, 'write these through aigfd.core.atomic_write:\n' + '\n'.join(bad)

def test_the_lint_finds_direct_writes():
    assert len(_direct_writes("df.to_csv(out/'a.csv')\n(out/'b.md').write_text(s)\nfig.savefig(out/'c.png')\nnp.savez(out/'f.npz', **d)")) == 4
    assert _direct_writes("atomic_write(p, lambda t: df.to_csv(t))\nfig.savefig(buf, format='png')\natomic_write(p, lambda t: t.write_text(s))") == []
