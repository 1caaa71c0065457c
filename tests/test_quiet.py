"""Quiet by default (issue 24): nothing a student reads as an error. `aigfd score` on one minibench face, in a fresh process
with no FAN weights (the dlib fallback) and a fresh cache (the ONNX export happens), prints its table and nothing on stderr;
importing fastai through aigfd shows no FutureWarning."""
import os, subprocess, sys, warnings
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent

@pytest.fixture(scope='module')
def face_detector(tiny_model, london_faces, tmp_path_factory):
    "A detector that crops faces by their landmarks (the path `aigfd score` takes for real detectors), saved to a file."
    from aigfd.detector import fit_detector
    d = tmp_path_factory.mktemp('quiet')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # 10 faces for 2 components: the fit itself rightly warns
        fit_detector(london_faces, tiny_model, out=d/'det.safetensors', n_components=2, pca_dim=4, threshold='in-sample',
                     crop='face', jpeg_quality=None, size=64)
    return d/'det.safetensors'

def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONWARNINGS',)}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), env.get('PYTHONPATH', '')]), TORCH_HOME=str(tmp_path/'no_fan'),
               AIGFD_CACHE=str(tmp_path/'cache'))
    return env

def test_score_one_face_prints_nothing_on_stderr(face_detector, london_faces, tmp_path):
    cmd = [sys.executable, '-c', 'import sys; from aigfd.cli import main; sys.exit(main())']
    for engine in ('auto', 'torch'):
        r = subprocess.run(cmd + ['score', str(london_faces[0]), '--detector', str(face_detector), '--engine', engine],
                           capture_output=True, text=True, env=_env(tmp_path), cwd=tmp_path, timeout=600)
        assert r.returncode == 0, r.stderr
        assert 'verdicts:' in r.stdout and london_faces[0].name in r.stdout, r.stdout
        assert r.stderr == '', f"--engine {engine}: stderr {r.stderr!r}"

def test_fastai_import_is_quiet(tmp_path):
    code = "import warnings; warnings.simplefilter('default'); import aigfd.data, aigfd.train"
    r = subprocess.run([sys.executable, '-W', 'default', '-c', code], capture_output=True, text=True, env=_env(tmp_path), cwd=tmp_path)
    assert r.returncode == 0 and 'torch.jit.script' not in r.stderr and 'Warning' not in r.stderr, r.stderr
