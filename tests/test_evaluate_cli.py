"`aigfd evaluate` options at their edges (issue 27): `--n-boot 0` gives the values without intervals, a negative count is refused."
import re
from conftest import run_cli

def _folders(london_faces, tmp_path):
    real, fk = tmp_path/'real', tmp_path/'fakes'/'gen'
    real.mkdir(); fk.mkdir(parents=True)
    for f in london_faces[:5]: (real/f.name).write_bytes(f.read_bytes())
    for f in london_faces[5:10]: (fk/f.name).write_bytes(f.read_bytes())
    return real, fk.parent

def test_evaluate_without_bootstrap(london_faces, det_file, tmp_path):
    "The issue's example: `--n-boot 0` crashed with an IndexError; now every value is there, each interval 'n/a', with the note, and the files say NaN."
    import pandas as pd
    real, fk = _folders(london_faces, tmp_path)
    rc, out, err = run_cli('evaluate', det_file, real, fk, '--n-boot', 0, '--out', tmp_path/'ev')
    assert rc == 0, err[-2000:]
    assert 'n/a: no interval, 0 bootstrap replicates' in out and '[n/a]' in out and not re.search(r'\bnan\b', out, re.I), out
    sm = pd.read_csv(tmp_path/'ev'/'metrics_ci.csv')
    assert sm.value.notna().any() and sm.lo.isna().all() and sm.hi.isna().all()
    rc, _, err = run_cli('evaluate', det_file, real, fk, '--n-boot', -1)
    assert rc == 2 and '--n-boot' in err and len(err.strip().splitlines()) == 1, err
