"The `aigfd train` command (`aigfd.cli.aigfd_train`, run as the console script runs it)."
import subprocess, sys

def _run(*args):
    return subprocess.run([sys.executable, '-c', 'import sys; from aigfd.cli import main; sys.exit(main())', 'train', *args],
                          capture_output=True, text=True, timeout=120)

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

def test_cli_budget_minutes(monkeypatch):
    "`--budget_min` reaches `train` as seconds; 0 switches the check off; unset keeps the preset's hour."
    import aigfd.train as T
    from aigfd.cli import aigfd_train
    seen = []
    monkeypatch.setattr(T, 'train', lambda preset, **kw: seen.append(kw.get('budget_s', 'preset')))
    for b in (5, 0, None): aigfd_train.__wrapped__('cpu', budget_min=b)
    assert seen == [300, None, 'preset'] and T.PRESETS['cpu'].budget_s == 3600

def test_cli_refuses_over_budget_before_training(tmp_path):
    "A schedule that cannot fit its budget stops before training, with its estimate and no run files beyond the config."
    code = ("from aigfd.train import train, synthetic_dls; "
            f"train('cpu', dls=synthetic_dls(), arch='resnet18', emb_dim=16, epochs=100000, budget_s=30, out={str(tmp_path)!r})")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and 'over the budget of 0.5 min' in r.stderr and 'steps need about' in r.stderr, r.stderr[-2000:]
    assert not (tmp_path/'history.csv').exists() and not (tmp_path/'models').exists()

def test_cli_pretext_data_and_jitter(monkeypatch):
    "`--pretext_data`, `--jitter` and `--pair_cameras` reach `train`; unset, the preset's values stay (cpu: jitter and pairs on)."
    import aigfd.train as T
    from aigfd.cli import aigfd_train
    seen = []
    monkeypatch.setattr(T, 'train', lambda preset, **kw: seen.append({k: kw.get(k, 'preset') for k in ('pretext_data', 'jitter', 'pair_cameras')}))
    aigfd_train.__wrapped__('cpu', pretext_data='minibench', jitter=False, pair_cameras=False)
    aigfd_train.__wrapped__('cpu')
    assert seen == [dict(pretext_data='minibench', jitter=False, pair_cameras=False), dict(pretext_data='preset', jitter='preset', pair_cameras='preset')]
    c = T.get_config('cpu')
    assert (c.pretext_data, c.jitter, c.pair_cameras) == ('auto', False, False)  # the corpus study: jitter slowed the manipulation task
    on = T.get_config('cpu', jitter=True, pair_cameras=True)
    assert not T.get_config(on, protocol='released-code').jitter and not T.get_config(on, protocol='released-code').pair_cameras  # the released code has neither
    assert T.get_config(on, protocol='released-code', jitter=True).jitter  # asked for explicitly: honoured
    assert not T.get_config('paper').jitter

def test_cpu_preset_trains_on_minibench_and_corpus(tmp_path):
    "One short epoch of the `cpu` preset on its default data, minibench and pretext corpus, with the jitter and camera-pair options on, recorded in config.json."
    import json
    from aigfd.train import train
    learn = train('cpu', epochs=1, img_size=32, manip_size=64, variants=None, budget_s=None, threads=2, out=str(tmp_path), jitter=True, pair_cameras=True)
    cfg = json.loads((tmp_path/'config.json').read_text())
    assert (cfg['pretext_data'], cfg['jitter'], cfg['pair_cameras']) == ('auto', True, True)
    src = learn.dls.items.source.value_counts()
    assert 500 <= src['corpus'] <= 560, src   # the corpus's 209 photos and the faces in which a face is found
    assert src['minibench'] > 900 and (tmp_path/'history.csv').exists() and (tmp_path/'final.safetensors').exists()
    assert learn.dls.train.dataset.jitter is not None and learn.dls.train.pair_keys is not None
