"The `aigfd_train` command (run as `python -m aigfd.train`)."
import subprocess, sys

def _run(*args):
    return subprocess.run([sys.executable, '-m', 'aigfd.train', *args], capture_output=True, text=True, timeout=120)

def test_cli_help():
    r = _run('--help')
    assert r.returncode == 0, r.stderr[-2000:]
    for opt in ('--preset', '--data', '--epochs', '--init', '--weights', '--resume-from'): assert opt in r.stdout

def test_cli_paper_needs_exif_as_language_weights():
    r = _run('--preset', 'paper', '--out', '/nonexistent/never-written')
    assert r.returncode != 0
    assert 'wrapper_75_new.pth' in r.stderr
