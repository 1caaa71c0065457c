"""Can a loader process keep the second core busy? The `cpu` preset's first epochs on the minibench's default data, from an
empty sample cache (every sample is made: the epochs where making samples costs most), with the samples made in the training
process (`num_workers=0`, the preset) or in one loader process (`num_workers=1`), at 2 compute threads and at 1.

Each configuration runs in its own process, with its own empty sample cache (the landmarks and the split are copied from the
user's cache, so they are not part of the time). Prints wall seconds per configuration and whether its weights equal the
preset's (training is bit-identical at a fixed thread count only, so 1 thread gives other weights by construction).

    python benchmarks/train_workers.py --epochs 8
"""
import argparse, json, os, shutil, subprocess, sys, tempfile
from pathlib import Path

CHILD = r'''
import json, sys, time, torch
from aigfd.train import train
epochs, nw, th, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
t = time.perf_counter()
learn = train('cpu', out=out, threads=th, budget_s=None, epochs=epochs, num_workers=nw, checkpoints=False)
s = time.perf_counter() - t
torch.save({k: v.clone() for k, v in learn.model.state_dict().items()}, out + '/weights.pt')
print(json.dumps(dict(seconds=s, threads=th, num_workers=nw, torch=torch.__version__)))
'''

def run(epochs, nw, th, root):
    "One configuration in a fresh process with an empty sample cache; its timing record."
    from aigfd.core import cache_dir
    cache, out = root/f'cache_w{nw}_t{th}', root/f'run_w{nw}_t{th}'
    for sub in ('landmarks', 'splits'):
        if (cache_dir()/sub).exists(): shutil.copytree(cache_dir()/sub, cache/sub)
    out.mkdir(parents=True)
    r = subprocess.run([sys.executable, '-c', CHILD, str(epochs), str(nw), str(th), str(out)], capture_output=True, text=True,
                       env={**os.environ, 'AIGFD_CACHE': str(cache)})
    if r.returncode: sys.exit(f"num_workers={nw}, threads={th} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1]) | dict(weights=out/'weights.pt')

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--epochs', type=int, default=8, help="epochs of the preset's schedule shortened to this many (default 8: the first `variants` epochs)")
    a = ap.parse_args()
    import torch
    with tempfile.TemporaryDirectory() as d:
        rows = [run(a.epochs, nw, th, Path(d)) for nw, th in ((0, 2), (1, 2), (1, 1))]
        ref = torch.load(rows[0]['weights'])
        print(f"cpu preset, first {a.epochs} epochs of the default data from an empty sample cache, torch {rows[0]['torch']}, {os.cpu_count()} CPUs")
        print("| loader processes | compute threads | wall s | speed-up | weights equal the preset's |\n|---|---|---|---|---|")
        for r in rows:
            w = torch.load(r['weights'])
            same = all(torch.equal(ref[k], w[k]) for k in ref)
            print(f"| {r['num_workers']} | {r['threads']} | {r['seconds']:.1f} | {rows[0]['seconds']/r['seconds']:.2f}x | {'yes' if same else 'no'} |")
