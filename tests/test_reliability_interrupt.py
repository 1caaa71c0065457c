"Interrupted work: training killed mid-epoch resumes to the same weights; killed landmark-cache writers never leave a corrupt cache."
import json, os, signal, subprocess, sys, time
from pathlib import Path
import numpy as np, pytest, torch
from safetensors.torch import load_file
from fastcore.foundation import L
from aigfd.landmarks import landmarks_for, Landmarker, _cache_read

# Set AIGFD_RELIABILITY_REPORT=/path.json to write the measured figures (kill times, weight differences, stray files).
FIGS = {}

@pytest.fixture(scope='module', autouse=True)
def _report():
    yield
    if os.environ.get('AIGFD_RELIABILITY_REPORT'): Path(os.environ['AIGFD_RELIABILITY_REPORT']).write_text(json.dumps(FIGS, indent=1, default=str))

def _env():
    return {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'PYTHONWARNINGS': 'ignore'}

def _wait_for(cond, proc, timeout, what):
    t0 = time.monotonic()
    while not cond():
        if proc.poll() is not None: raise AssertionError(f"{what}: the job ended early (rc={proc.returncode}): {proc.stderr.read()[-2000:] if proc.stderr else ''}")
        if time.monotonic() - t0 > timeout: proc.kill(); raise AssertionError(f"{what}: timed out after {timeout}s")
        time.sleep(0.02)

# ---- (a) training ----

TRAIN_JOB = r'''
import sys, warnings, logging
warnings.simplefilter('ignore'); logging.disable(logging.WARNING)
import torch; torch.set_num_threads(1)
from aigfd.train import train, synthetic_dls
out, resume_from = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
dls = synthetic_dls(n=192, size=32, bs=16, seed=0, device='cpu')
train('cpu', dls=dls, out=out, arch='test_resnet', emb_dim=16, img_size=32, epochs=3, lr=1e-3, seed=7, resume_from=resume_from)
'''

def _train(tmp_path, out, *args, wait=True):
    job = tmp_path/'train_job.py'; job.write_text(TRAIN_JOB)
    p = subprocess.Popen([sys.executable, str(job), str(out), *map(str, args)], env=_env(), cwd=tmp_path,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if wait:
        assert p.wait(timeout=300) == 0, p.stderr.read()[-3000:]
    return p

_FASTAI_SAFE = [L, np.core.multiarray.scalar, np.dtype, *[getattr(np.dtypes, t) for t in np.dtypes.__all__]]

def _last_loadable(models:Path):
    "The highest-epoch checkpoint that torch can read, and the names of unreadable ones."
    bad = []
    for f in sorted(models.glob('model_*.pth'), key=lambda f: int(f.stem.split('_')[1]), reverse=True):
        try:
            with torch.serialization.safe_globals(_FASTAI_SAFE): torch.load(f, map_location='cpu', weights_only=True)  # as fastai's load_model
            return f, bad
        except Exception: bad.append(f.name)
    return None, bad

def test_training_killed_mid_epoch_resumes_to_same_weights(tmp_path):
    full, cut = tmp_path/'full', tmp_path/'cut'
    ref = _train(tmp_path, full, wait=False)  # uninterrupted run, in parallel with the interrupted one
    p = _train(tmp_path, cut, wait=False)
    ck0 = cut/'models'/'model_0.pth'
    _wait_for(lambda: ck0.exists() and ck0.stat().st_size > 0, p, 300, 'first checkpoint')
    time.sleep(0.3)  # well into epoch 1 (an epoch takes seconds)
    os.kill(p.pid, signal.SIGKILL); p.wait()
    assert ref.wait(timeout=300) == 0, ref.stderr.read()[-3000:]
    ckpts = sorted(f.name for f in (cut/'models').glob('*'))
    ck, unreadable = _last_loadable(cut/'models')
    FIGS['train_checkpoints_after_kill'], FIGS['train_unreadable_checkpoints'] = ckpts, unreadable
    assert ck is not None and not (cut/'final.safetensors').exists()
    r = _train(tmp_path, cut, ck, wait=False); r.wait(timeout=300); err = r.stderr.read()
    FIGS['train_resume_rc'] = r.returncode
    # known bug (see test_read_history_after_resume): the resumed run trains and saves, then plot_history fails
    assert r.returncode == 0 or ('read_history' in err and (cut/'final.safetensors').exists()), err[-3000:]
    a, b = load_file(full/'final.safetensors'), load_file(cut/'final.safetensors')
    assert a.keys() == b.keys()
    diff = max(float((a[k].double() - b[k].double()).abs().max()) for k in a)
    FIGS['train_resumed_from'], FIGS['train_max_abs_weight_diff'] = ck.name, diff
    FIGS['train_identical_tensors'] = sum(torch.equal(a[k], b[k]) for k in a), len(a)
    assert diff <= 1e-5, diff
    hist = (cut/'history.csv').read_text().splitlines()
    assert sum(l.split(',')[0] == '2' for l in hist) == 1  # the last epoch was trained once, after the resume

def test_read_history_after_resume(tmp_path):
    from aigfd.train import read_history
    cols = 'epoch,train_loss,valid_loss,manip_acc,time'
    (tmp_path/'history.csv').write_text(f"{cols}\n0,1.25,1.39,0.53,00:02\n{cols}\n0,00:00\n1,0.96,1.04,0.82,00:00\n")
    df = read_history(tmp_path)
    assert df.epoch.tolist() == [0, 1] and df.train_loss.tolist() == [1.25, 0.96]

# ---- (b) landmark cache writers ----

LM_JOB = r'''
import sys, warnings; warnings.simplefilter('ignore')
from aigfd.landmarks import landmarks_for
files = [l for l in open(sys.argv[1]).read().splitlines() if l]
landmarks_for(files, 'dlib', cache_root=sys.argv[2], progress=False)
'''

@pytest.fixture(scope='module')
def lm_files():
    from aigfd.minibench import minibench_path, read_manifest
    if minibench_path(must_exist=False) is None: pytest.skip('minibench not available')
    m = read_manifest()
    faces = m[m.path.str.startswith(('faces_real/london/', 'faces_real/congress/'))].file
    return [Path(f) for f in faces.iloc[::5][:150]]

def _check_cache(root:Path) -> tuple[int, int]:
    "Every entry reads back valid (68x2 float32 points or the 'no face' marker); returns (entries, stray temp files)."
    entries = list(root.rglob('*.npy'))
    for e in entries:
        assert not e.name.startswith('.'), e
        a = np.load(e, allow_pickle=False)
        assert a.shape == (68, 2) and a.dtype == np.float32, (e, a.shape, a.dtype)
        assert np.isnan(a).all() or np.isfinite(a).all(), e
        _cache_read(e)  # the library's own reader accepts it (raises KeyError otherwise)
    return len(entries), len(list(root.rglob('*.tmp')))

def test_landmark_cache_survives_sigkill(tmp_path, lm_files):
    lst = tmp_path/'files.txt'; lst.write_text('\n'.join(map(str, lm_files)))
    job = tmp_path/'lm_job.py'; job.write_text(LM_JOB)
    root, rng, kills = tmp_path/'cache', np.random.default_rng(0), []
    for k in range(4):
        before = len(list(root.rglob('*.npy'))) if root.exists() else 0
        p = subprocess.Popen([sys.executable, str(job), str(lst), str(root)], env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _wait_for(lambda: root.exists() and len(list(root.rglob('*.npy'))) > before, p, 180, 'first cache entry')
        time.sleep(float(rng.uniform(0, 0.3)))
        os.kill(p.pid, signal.SIGKILL); p.wait()
        n, stray = _check_cache(root)
        kills.append(dict(entries=n, stray_tmp=stray))
        if n == len(lm_files): break
    FIGS['landmark_kills'] = kills
    lm = Landmarker('dlib')
    resumed = landmarks_for(lm_files, lm, cache_root=root, progress=False)
    FIGS['landmark_rerun_cache_hits'] = int(resumed.cached.sum())
    clean = landmarks_for(lm_files, lm, cache=False, progress=False)
    assert resumed.status.tolist() == clean.status.tolist()
    for a, b in zip(resumed.landmarks, clean.landmarks):
        assert (a is None and b is None) or np.array_equal(a, b)
    assert _check_cache(root)[0] == len(lm_files)
    assert kills[0]['entries'] < len(lm_files)  # the first kill interrupted real work
