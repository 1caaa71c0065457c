"""Speed of `aigfd.manipulate` against a straightforward implementation of the authors' steps (the baseline below).

Both run the four manipulations of real minibench faces at 224 px with the same blend ratio and warp seed, on the
same number of OpenCV threads; outputs must agree within 1 grey level of mean absolute difference (asserted).
The warp's baseline is imgaug's call with its 0.4 default grid (rows and cols each drawn from {2, 3, 4}); a second
table times the warp on each of the nine grids, fixed, against imgaug with that grid.

    python benchmarks/manipulate.py [--n 60] [--threads 1] [--reps 3] [--quick]

`--threads` sets both cv2.setNumThreads and the BLAS thread pools (threadpoolctl) for both implementations. Times are
the best of `--reps` runs, as wall clock and as process CPU time (robust on a shared, overloaded machine), in a warm
process: before any timing, both implementations run once on every one of the nine control grids and every
manipulation (the fast warp's first call on a grid builds its mesh and loads its compiled kernel, about 120 ms, which
a long training run pays once). The targets (all four manipulations at least 10x the baseline, the warp at least 5x on
every grid, process CPU time) are printed with the figures. `--quick` is a smoke run (4 faces, 1 repetition): it
checks the outputs and that everything runs, its times mean little.
"""
import argparse, math, time
import numpy as np, cv2, imgaug
from threadpoolctl import threadpool_limits, threadpool_info
from aigfd.core import MANIPULATIONS
from aigfd.minibench import read_manifest
from aigfd.landmarks import landmarks_for
from aigfd.manipulate import KINDS, PAD, REGIONS, manipulate, to_size
from aigfd.warp import piecewise_affine

CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
ELLIPSE = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))

# ---- baseline: the authors' steps, whole image, no shortcuts -------------------------------------------------
def baseline_box(lm, region, shape):
    "Corner line, iterated 3x3-cross dilation, bounding box of the first external contour."
    (i, j), div, mul = REGIONS[region]
    if not np.isfinite(lm[[i, j]]).all(): return None
    (x1, y1), (x2, y2) = np.clip(lm[[i, j]], -1e6, 1e6).astype(np.int32).tolist()
    n = int(math.dist((x1, y1), (x2, y2)) // div) * mul
    if n < 1: return None
    mask = cv2.line(np.zeros(shape[:2], np.uint8), (x1, y1), (x2, y2), 1, 2)
    mask = cv2.dilate(mask, CROSS, iterations=n)
    cs, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not cs: return None
    x, y, w, h = cv2.boundingRect(cs[0])
    return x, y, x+w, y+h

def baseline_mask(box, shape):
    "uint8 box, 91x91 blur (sigma 7, retry 1), keep the full-value core, erode 15x15 ellipse, 51x51 blur (sigma 10)."
    l, t, r, b = box
    rect = np.zeros(shape[:2], np.uint8); rect[t:b, l:r] = 1
    m = cv2.GaussianBlur(rect, (91, 91), 7)
    if m.max() == 0: m = cv2.GaussianBlur(rect, (91, 91), 1)
    m = m/m.max(); m[m < 1] = 0
    e = cv2.erode(m, ELLIPSE)
    if e.max() == 0: e = m
    m = cv2.GaussianBlur(e, (51, 51), 10)
    return m/m.max()

def baseline_warp(a, seed, grid=None):
    "The authors' imgaug call, as is: `PiecewiseAffine(scale=(0.04, 0.05))` with imgaug 0.4's default grid (or a fixed one)."
    import imgaug.augmenters as iaa, warnings
    kw = {} if grid is None else dict(nb_rows=grid[0], nb_cols=grid[1])
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return iaa.PiecewiseAffine(scale=(0.04, 0.05), seed=seed, **kw)(image=a)

def baseline_manipulate(a, lm, kind, ratio, warp_seed):
    "The whole-image reference recipe on a 224 px face `a` with landmarks `lm` (fallback: the same imgaug warp)."
    region, flip = KINDS[kind]
    box = None if region is None or lm is None else baseline_box(lm, region, a.shape)
    if box is None: return baseline_warp(a, warp_seed)
    H, W = a.shape[:2]; l, t, r, b = box
    pt, pb, pl, pr = max(t-PAD, 0), min(b+PAD, H), max(l-PAD, 0), min(r+PAD, W)
    rot = a.copy(); rot[pt:pb, pl:pr] = cv2.flip(a[pt:pb, pl:pr], flip)
    m = np.repeat(baseline_mask(box, a.shape)[..., None]*ratio, 3, axis=2)
    return np.uint8(m*rot + (1-m)*a)

# ---- benchmark ------------------------------------------------------------------------------------------------
def faces(n):
    "n real minibench faces (half London, half Congress) at 224 px with dlib landmarks (cached)."
    real = read_manifest().query("role=='real_face'")
    fs = [f for f in real.file if '/london/' in f][:n//2] + [f for f in real.file if '/congress/' in f][:n - n//2]
    df = landmarks_for(fs, backend='dlib', progress=False)
    return [to_size(f, p) for f, p in zip(df.file, df.landmarks)]

def _timed(f):
    "(result, wall s, cpu s) of f()"
    t, c = time.perf_counter(), time.process_time()
    r = f()
    return r, time.perf_counter()-t, time.process_time()-c

def table(tb, tf, unit):
    print(f"-- {unit}: {'baseline faces/s':>17}{'fast faces/s':>14}{'speed-up':>10}")
    rows = [(f"{k} {MANIPULATIONS[k]}", [k]) for k in range(4)] + [('flips (0-2)', [0, 1, 2]), ('all four', [0, 1, 2, 3])]
    for name, ks in rows: print(f"{name:<20}{1/tb[ks].sum():>17.1f}{1/tf[ks].sum():>14.1f}{tb[ks].sum()/tf[ks].sum():>9.1f}x")

def warm_up(data):
    "Run both implementations once on every control grid and every manipulation: imports, meshes, the compiled sampler."
    a, lm = data[0]
    for g in GRIDS: piecewise_affine(a, 0, grid=g); baseline_warp(a, 0, g)
    for k in range(4):
        r = manipulate(a, lm, k, seed=0, size=None); baseline_manipulate(a, lm, k, r.ratio or 1., r.warp_seed or 0)

def run(n=60, threads=1, reps=3):
    data = faces(n)
    warm_up(data)  # before any timing: a warm process
    cv2.setNumThreads(threads)
    threadpool_limits(threads)  # after the imports: BLAS libraries load lazily
    print(f"numpy {np.__version__}, opencv {cv2.__version__}, imgaug {imgaug.__version__}")
    print(f"{len(data)} faces ({sum(lm is None for _, lm in data)} without landmarks), cv2 threads={cv2.getNumThreads()}, "
          f"BLAS threads={[d['num_threads'] for d in threadpool_info()]}, best of {reps}")
    # same results first: same blend ratio and warp seed, outputs compared pixel by pixel
    mads = []
    for k in range(4):
        for i, (a, lm) in enumerate(data):
            r = manipulate(a, lm, k, seed=i, size=None)
            b = baseline_manipulate(a, lm, k, r.ratio, r.warp_seed)
            mads.append((np.abs(r.image.astype(int)-b).mean(), (r.image == b).all()))
    mad = max(m for m, _ in mads)
    print(f"outputs: max mean-abs-diff {mad:.4f} grey levels, {sum(s for _, s in mads)}/{len(mads)} bit-identical")
    assert mad <= 1, f"fast and baseline outputs differ by {mad:.3f} grey levels on average"
    T = np.full((2, 2, reps, 4), np.inf)  # (baseline|fast, wall|cpu, rep, kind) seconds per face
    for rep in range(reps):
        for k in range(4):
            res, *T[1, :, rep, k] = _timed(lambda: [manipulate(a, lm, k, seed=i, size=None) for i, (a, lm) in enumerate(data)])
            _, *T[0, :, rep, k] = _timed(lambda: [baseline_manipulate(a, lm, k, r.ratio, r.warp_seed) for (a, lm), r in zip(data, res)])
    T = T.min(2)/len(data)
    table(T[0, 0], T[1, 0], 'wall clock')
    table(T[0, 1], T[1, 1], 'process CPU time')
    allr, warpr = T[0, 1].sum()/T[1, 1].sum(), T[0, 1, 3]/T[1, 1, 3]
    print(f"process CPU time, random grid: all four {allr:.1f}x (target >= 10x: {allr >= 10}), warp {warpr:.1f}x (target >= 5x: {warpr >= 5})")
    grids(data, reps)
    return T

GRIDS = [(r, c) for r in (2, 3, 4) for c in (2, 3, 4)]  # the nine grids imgaug 0.4 draws from by default

def grids(data, reps=3):
    "The warp on every control grid: fast path against imgaug's call with that grid fixed (same seeds), pixels compared."
    print(f"-- warp by control grid (rows x cols), process CPU ms per face, best of {reps}")
    print(f"{'grid':<8}{'imgaug ms':>10}{'fast ms':>9}{'speed-up':>10}{'identical':>11}")
    ratios = []
    for g in GRIDS:
        same = sum((piecewise_affine(a, i, grid=g) == baseline_warp(a, i, g)).all() for i, (a, _) in enumerate(data))
        tb = tf = np.inf
        for rep in range(reps):
            _, _, c = _timed(lambda: [baseline_warp(a, i, g) for i, (a, _) in enumerate(data)]); tb = min(tb, c)
            _, _, c = _timed(lambda: [piecewise_affine(a, i, grid=g) for i, (a, _) in enumerate(data)]); tf = min(tf, c)
        ratios.append(tb/tf)
        print(f"{g[0]}x{g[1]:<6}{1e3*tb/len(data):>10.2f}{1e3*tf/len(data):>9.2f}{tb/tf:>9.1f}x{same:>7}/{len(data)}")
    print(f"slowest grid ratio {min(ratios):.1f}x, all nine at least 5x: {min(ratios) >= 5}")
    return ratios

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--n', type=int, default=60, help='number of faces')
    p.add_argument('--threads', type=int, default=1, help='OpenCV and BLAS threads, for both implementations')
    p.add_argument('--reps', type=int, default=3, help='repetitions (best time kept)')
    p.add_argument('--quick', action='store_true', help='smoke run: 4 faces, 1 repetition (checks outputs; times mean little)')
    a = p.parse_args()
    run(4, a.threads, 1) if a.quick else run(a.n, a.threads, a.reps)
