"""Benchmark of `aigfd.landmarks.Landmarker`: landmark throughput (faces/second) per available backend on minibench
faces (London 512 px, Congress 225x275, fake tiles 249-512 px), with face detection on a downscaled copy
(`detect_size=320`, the default) and at full size (`detect_size=None`).

Run: `python benchmarks/landmarks.py [--n 60] [--threads 1] [--backends dlib,fan] [--detect-sizes 320,none]`
Images are decoded once before timing; the figure is calls of `lm(array)` per second (detection + 68 points).
Also prints the share of images with a face found and, for each downscaled setting, the mean distance (px) of its
points to the full-size detection's on images where both found a face. FAN runs only where its weights are on disk.

Then the cost of the second detection pass (`Landmarker(min_face=...)`, issue 14): `--large N` camera photos of the
minibench upscaled to 4000x2666, each once with a London face pasted as a 300 px tile (a face of ordinary size in a
large photo, ~150 px) and once as it is (no face: the second pass's worst case, it runs and finds nothing), timed
with `min_face` None (no second pass), 160 and 80 (the default). Figures are seconds per image and the share with a
face found. Time it on a quiet machine: the second pass is a full-size HOG scan, so load from other processes shows."""
import argparse, time
import numpy as np
import torch
from aigfd.images import load_image
from aigfd.minibench import read_manifest
from aigfd.landmarks import Landmarker, fan_weights

GROUPS = {'london': 'faces_real/london/', 'congress': 'faces_real/congress/',
          'fakes': ('faces_fake/sdxl/', 'faces_fake/flux1_schnell/', 'faces_fake/sfhq_stylegan2/')}

def load_groups(n):
    "n decoded images per group (fakes: n split over three generators), first files in manifest order"
    man = read_manifest()
    out = {}
    for g, pre in GROUPS.items():
        pres = pre if isinstance(pre, tuple) else (pre,)
        fs = sum([man[man.path.str.startswith(p)].file.iloc[:n//len(pres)].tolist() for p in pres], [])
        out[g] = [np.asarray(load_image(f)) for f in fs]
    return out

def bench(lm, imgs, reps=1):
    lm(imgs[0])  # warm-up
    t = time.perf_counter()
    for _ in range(reps): res = [lm(a) for a in imgs]
    return res, reps*len(imgs)/(time.perf_counter() - t)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', type=int, default=60, help='images per group')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--backends', default='dlib,fan')
    ap.add_argument('--detect-sizes', default='320,none')
    ap.add_argument('--large', type=int, default=8, help='large photos for the second-pass benchmark (0: skip it)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    sizes = [None if s.lower() == 'none' else int(s) for s in a.detect_sizes.split(',')]
    backends = [b for b in a.backends.split(',') if b != 'fan' or fan_weights() is not None]
    if 'fan' in a.backends and 'fan' not in backends: print('fan: skipped, weights not found locally (see aigfd.landmarks.fan_weights)')
    groups = load_groups(a.n)
    print(f"torch {torch.__version__}, threads {a.threads}; images: " + ', '.join(f'{g} {len(v)}' for g, v in groups.items()))
    print(f"{'backend':8} {'detect':>6} {'group':9} {'faces/s':>8} {'found':>6} {'px vs full':>10}")
    for b in backends:
        for g, imgs in groups.items():
            full = None
            for s in sorted(sizes, key=lambda s: s is not None):  # full size first, as the reference
                res, fps = bench(Landmarker(b, detect_size=s), imgs)
                found = np.mean([r is not None for r in res])
                if s is None: full, d = res, ''
                elif full is None: d = ''
                else:
                    ds = [np.linalg.norm(p - q, axis=1).mean() for p, q in zip(res, full) if p is not None and q is not None]
                    d = f'{np.mean(ds):.2f}' if ds else ''
                print(f"{b:8} {str(s or 'full'):>6} {g:9} {fps:8.1f} {found:6.2f} {d:>10}")
    if a.large: second_pass(a.large, backends)

def large_photos(n, seed=0):
    "n camera photos upscaled to 4000x2666, each with a London face pasted as a 300 px tile and without it."
    from PIL import Image
    man = read_manifest(); rng = np.random.default_rng(seed)
    face = load_image(man[man.path.str.startswith('faces_real/london/neutral')].file.iloc[0]).resize((300, 300))
    with_face, without = [], []
    for f in man[man.role == 'exif_photo'].file.iloc[:n]:
        bg = load_image(f).resize((4000, 2666), Image.BILINEAR)
        without.append(np.asarray(bg))
        bg.paste(face, (int(rng.integers(0, 3700)), int(rng.integers(0, 2366)))); with_face.append(np.asarray(bg))
    return {'face 300px': with_face, 'no face': without}

def second_pass(n, backends):
    groups = large_photos(n)
    print(f"\nsecond detection pass on {n} camera photos upscaled to 4000x2666 (detect_size 320)")
    print(f"{'backend':8} {'min_face':>8} {'group':11} {'s/image':>8} {'found':>6}")
    for b in backends:
        for mf in (None, 160, 80):
            lm = Landmarker(b, min_face=mf)
            for g, imgs in groups.items():
                res, fps = bench(lm, imgs)
                print(f"{b:8} {str(mf):>8} {g:11} {1/fps:8.2f} {np.mean([r is not None for r in res]):6.2f}")

if __name__ == '__main__': main()
