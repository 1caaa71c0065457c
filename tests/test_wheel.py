"""The built wheel keeps the README's promises: installed (not editable) in a throwaway venv, away from the checkout,
`aigfd reproduce --help` works and `aigfd reproduce RUN` finds the published results shipped in the wheel.

The venv reuses this interpreter's installed dependencies through a `.pth` file (no download, no second torch); the wheel
itself is built with `pip wheel --no-deps --no-build-isolation` and installed with `--no-deps`. About 30 s."""
import json, os, site, subprocess, sys, sysconfig
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent

@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    "(aigfd console script of a venv holding only the wheel, environment to run it in, a folder outside the checkout)."
    d = tmp_path_factory.mktemp('wheel')
    env = {k: v for k, v in os.environ.items() if not k.startswith(('PYTHON', 'AIGFD_', 'VIRTUAL_ENV'))}  # nothing points at the checkout
    r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation', str(ROOT), '-w', str(d/'dist')],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    whl, = (d/'dist').glob('aigfd-*.whl')
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(d/'venv')], check=True)
    py = d/'venv'/'bin'/'python'
    pure = subprocess.run([str(py), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], capture_output=True, text=True, check=True).stdout.strip()
    r = subprocess.run([sys.executable, '-m', 'pip', '--python', str(py), 'install', '-q', '--no-deps', '--no-index', str(whl)],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    # then the dependencies: after the venv's own site-packages, so its aigfd wins
    deps = [p for p in site.getsitepackages() + [sysconfig.get_paths()['purelib']] if Path(p).is_dir()]
    Path(pure, '_deps.pth').write_text('\n'.join(dict.fromkeys(deps)) + '\n')
    env.update(PATH=f"{d/'venv'/'bin'}:{env.get('PATH', '')}", AIGFD_CACHE=str(d/'cache'))
    away = d/'elsewhere'; away.mkdir()
    return d/'venv'/'bin'/'aigfd', env, away

def _run(installed, *args):
    exe, env, away = installed
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, cwd=away, timeout=300)

def test_wheel_is_not_the_checkout(installed):
    exe, env, away = installed
    r = subprocess.run([str(exe.parent/'python'), '-c', 'import aigfd, aigfd.repro as r; print(aigfd.__file__); print(r.published_path())'],
                       capture_output=True, text=True, env=env, cwd=away)
    assert r.returncode == 0, r.stderr
    mod, pub = r.stdout.split()
    assert str(ROOT) not in mod and 'site-packages' in mod
    assert pub.endswith('aigfd/published/minibench.json') and str(ROOT) not in pub
    assert json.loads(Path(pub).read_text()) == json.loads((ROOT/'results'/'minibench.json').read_text())

def test_wheel_reproduce(installed):
    r = _run(installed, 'reproduce', '--help')
    assert r.returncode == 0 and '--published' in r.stdout, r.stdout + r.stderr
    pub = json.loads((ROOT/'results'/'minibench.json').read_text())
    run = installed[2]/'aigfd-demo'; run.mkdir()
    # a tiny fixture run: the published settings with other threads, every figure nudged inside its interval
    fix = {**pub, 'settings': {**pub['settings'], 'threads': 1}, 'environment': {**pub['environment'], 'torch_threads': 1},
           'metrics': [{**m, 'value': m['value'] + 0.25*(m['hi'] - m['value'])} for m in pub['metrics']]}
    (run/'results.json').write_text(json.dumps(fix))
    r = _run(installed, 'reproduce', 'aigfd-demo')
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert 'aigfd/published/minibench.json' in r.stdout and f"{len(pub['metrics'])} of {len(pub['metrics'])} figures inside" in r.stdout
    assert 'torch_threads 1 here' in r.stdout
    r = _run(installed, 'reproduce', 'aigfd-demo', '--published', 'nowhere.json')   # bad input: the file it looked for, and how
    assert r.returncode != 0 and 'nowhere.json: no such published results file' in r.stderr and 'Traceback' not in r.stderr, r.stderr
