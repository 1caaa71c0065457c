"""How much the thread count moves the demo's figures: the demo's seed-42 model, its features, GMM and evaluation under 1 thread,
against a finished demo run under 2 threads (the published one). Writes results/minibench_threads.json and .md (the README includes the .md).

    python benchmarks/thread_spread.py aigfd-demo aigfd-demo-1thread      # runs `run_demo(..., threads=1, train_seeds=1, ablations=False)` first
    python benchmarks/thread_spread.py aigfd-demo aigfd-demo-1thread --report-only
"""
import sys, json
from pathlib import Path
import pandas as pd

def measure(two, one):
    from safetensors.torch import load_file
    wa, wb = load_file(two/'run'/'final.safetensors'), load_file(one/'run'/'final.safetensors')
    fl = [k for k in wa if wa[k].is_floating_point()]
    rows = []
    for f, name in (('aigfd', 'aigfd (ours), seed 42'), ('same', 'same network, random weights'), ('image', 'image statistics')):
        a, b = pd.read_csv(two/f'metrics_{f}.csv', index_col=0), pd.read_csv(one/f'metrics_{f}.csv', index_col=0)
        for m in ('auc', 'ap', 'acc'): rows.append(dict(feature=name, metric=m.upper(), two_threads=a.loc['mean', m], one_thread=b.loc['mean', m], difference=b.loc['mean', m] - a.loc['mean', m]))
    env = json.loads((one/'config.json').read_text())['environment']
    return dict(max_abs_weight_diff=max(float((wa[k].double() - wb[k].double()).abs().max()) for k in fl),
                max_rel_weight_diff=max(float((wa[k].double() - wb[k].double()).norm()/wa[k].double().norm().clamp_min(1e-12)) for k in fl),
                metrics=rows, environment=env)

def markdown(r):
    t = pd.DataFrame(r['metrics'])
    lines = ['| feature | metric | 2 threads | 1 thread | 1 − 2 threads |', '|---|---|---|---|---|']
    lines += [f"| {x.feature} | {x.metric} | {x.two_threads:.2f} | {x.one_thread:.2f} | {x.difference:+.2f} |" for x in t.itertuples()]
    e = r['environment']
    return (f"The demo's seed-42 model trained under 1 thread instead of 2, everything else equal (CPU capability {e['cpu_capability']}, torch {e['versions']['torch']}): "
            f"its weights differ by up to {r['max_abs_weight_diff']:.3g} (largest relative difference of a weight tensor {r['max_rel_weight_diff']:.2g}); "
            f"mean over the five generators, in points:\n\n" + '\n'.join(lines))

if __name__ == '__main__':
    two, one = Path(sys.argv[1]), Path(sys.argv[2])
    if '--report-only' not in sys.argv:
        from aigfd.demo import run_demo
        run_demo(one, threads=1, train_seeds=1, ablations=False)
    r = measure(two, one); out = Path(__file__).resolve().parent.parent/'results'
    (out/'minibench_threads.json').write_text(json.dumps(r, indent=1, default=float))
    (out/'minibench_threads.md').write_text(markdown(r) + '\n'); print(markdown(r))
