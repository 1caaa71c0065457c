"README results section: generated from the committed results file, and CI's `--check` fails when they disagree."
import shutil, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd
from aigfd.repro import bootstrap_scores, summarise, compare, write_results

ROOT = Path(__file__).resolve().parent.parent

def _results(path, shift=1.):
    r = np.random.default_rng(0)
    sc = lambda s: pd.DataFrame(dict(generator=['real']*40 + ['gan']*40, ll=np.r_[r.normal(0, 1, 40), r.normal(-s, 1, 40)]))
    boots = {'ours': bootstrap_scores([(sc(shift), -1.6), (sc(shift), -1.6)], n_boot=100), 'baseline': bootstrap_scores([(sc(0.2), -1.6)], n_boot=100)}
    write_results(path, summarise(boots), compare(boots, [('ours', 'baseline')]), settings=dict(seed=0, train_seeds=2), n_boot=100)

def _run(repo, *args): return subprocess.run([sys.executable, str(repo/'.ci'/'readme.py'), *args], capture_output=True, text=True)

def test_readme_results_generated_and_checked(tmp_path):
    repo = tmp_path/'repo'
    (repo/'.ci').mkdir(parents=True); (repo/'nbs').mkdir()
    shutil.copy(ROOT/'.ci'/'readme.py', repo/'.ci'); shutil.copy(ROOT/'nbs'/'index.ipynb', repo/'nbs')
    (repo/'aigfd').symlink_to(ROOT/'aigfd')
    assert _run(repo).returncode == 0
    assert 'No published results file' in (repo/'README.md').read_text()  # no figures rather than typed ones
    _results(repo/'results'/'minibench.json')
    assert _run(repo, '--check').returncode != 0  # the README no longer matches the results file
    assert _run(repo).returncode == 0
    text = (repo/'README.md').read_text()
    assert '| ours |' in text and 'ours − baseline' in text and '±' in text and 'CPU capability' in text
    assert _run(repo, '--check').returncode == 0
    _results(repo/'results'/'minibench.json', shift=2.)  # new figures: CI fails until the README is regenerated
    assert _run(repo, '--check').returncode != 0

def test_readme_lists_every_notebook():
    "The README's notebook table (from nbs/index.ipynb) has a row for every notebook of nbs/ (issue 24)."
    import re
    rows = set(re.findall(r'^\| `([\w-]+)` \|', (ROOT/'README.md').read_text(), re.M))
    missing = sorted(p.stem for p in (ROOT/'nbs').glob('*.ipynb') if p.stem != 'index' and p.stem not in rows)
    assert not missing, f"notebooks missing from the README's table (add them in nbs/index.ipynb): {missing}"
