"""Cost of making training samples on the fly (aigfd.data): seconds per item by sample kind, and items/s on the fly vs with
cached negatives (variants=1) over 10 epochs. Run: python benchmarks/data_speed.py [n_faces n_photos]"""
import sys, time, tempfile
import numpy as np, torch
from aigfd.data import ManipDataset
from aigfd.items import minibench_items, prepare_items

torch.set_num_threads(2)
nf, npht = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (40, 20)
items, status = prepare_items(minibench_items(n_faces=nf, n_photos=npht))
print(f"\nitems: {len(items)} ({(items.kind=='face').sum()} face samples, {(items.kind=='photo').sum()} photos without a face)")
ds = ManipDataset(items, size=224, manip_size=224)
times = {}
for ds.epoch in range(6):
    for i in range(len(ds)):
        k = ds.kind(i); t = time.perf_counter(); ds[i]; dt = time.perf_counter() - t
        times.setdefault(('face' if ds._rows[i][3] else 'photo', k), []).append(dt)
names = {-1: 'clean', 0: 'mouth_180', 1: 'mouth_hflip', 2: 'eye_hflip', 3: 'warp'}
for (kind, k), v in sorted(times.items()):
    print(f"{kind:5s} {names[k]:12s} n={len(v):4d}  median {np.median(v)*1e3:6.1f} ms  mean {np.mean(v)*1e3:6.1f} ms")
allt = np.concatenate([v for v in times.values()])
print(f"all samples: mean {allt.mean()*1e3:.1f} ms/item -> {1/allt.mean():.1f} items/s per core")
_cache_dir = tempfile.TemporaryDirectory(); cache = _cache_dir.name
for variants in (None, 1):
    ds = ManipDataset(items, size=224, manip_size=224, variants=variants, cache_root=cache)
    for ds.epoch in range(1, 11):
        t = time.perf_counter(); [ds[i] for i in range(len(ds))]; dt = time.perf_counter() - t
        if ds.epoch in (1, 10): print(f"variants={variants}: epoch {ds.epoch}: {len(ds)} items in {dt:.1f} s ({len(ds)/dt:.1f} items/s, 1 process)")
