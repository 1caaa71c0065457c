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

def test_ablation_configs_reach_the_loss(tmp_path):
    "The Table III ablations: `use_rank`/`use_manip` in the config switch the terms of the learner's loss."
    from aigfd.train import get_config, aigfd_learner, synthetic_dls
    for ur, um in [(True, False), (False, True)]:
        cfg = get_config('cpu', arch='resnet18', emb_dim=16, out=str(tmp_path/f'{ur}{um}'), use_rank=ur, use_manip=um)
        loss = aigfd_learner(synthetic_dls(), cfg, checkpoints=False).loss_func
        assert (loss.use_rank, loss.use_manip) == (ur, um)
