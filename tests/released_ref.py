"""The released code's computations, re-implemented plainly from what they compute (`reference-details.md`, the Conformance page),
to check aigfd's `released-code` protocol against, value by value: the training face crop, the whole-image resize and negative
chain, the network input, and the GMM evaluation. Slow and literal on purpose; used by `tests/test_released.py` and the
Conformance page (`nbs/15_conformance.ipynb`). Not part of the package."""
import importlib.util
from pathlib import Path
import numpy as np
from PIL import Image

_bp = Path(__file__).resolve().parents[1]/'benchmarks'/'manipulate.py'
_spec = importlib.util.spec_from_file_location('bench_manipulate', _bp)
bench = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(bench)  # `baseline_manipulate`: the authors' steps at 224 px

# face boxes in fractions of the image side (FDF's metadata), on a 128 x 128 image: the cases the crop has to get right
CROP_BOXES = {
    'fdf fixture (fractions)': (0.25, 0.2, 0.75, 0.8),
    'fdf fixture (pixels)': (30/128, 25/128, 98/128, 105/128),
    'even side, centred': (32/128, 32/128, 96/128, 96/128),
    'odd side 65': (40/128, 40/128, 80/128, 90/128),
    'odd side 101, left clamp': (2/128, 40/128, 80/128, 100/128),
    'odd side 89, top clamp': (30/128, 1/128, 90/128, 70/128),
    'left and top clamp': (0., 0., 70/128, 60/128),
    'left and top clamp, odd 87': (-5/128, -3/128, 62/128, 50/128),
    'right and bottom cut': (60/128, 70/128, 127/128, 126/128),
    'right cut, top clamp': (80/128, 2/128, 126/128, 60/128),
    'left clamp, bottom cut': (3/128, 70/128, 60/128, 127/128),
    'larger than the image': (-10/128, -10/128, 140/128, 140/128),
    'half pixels (round half to even)': (24.5/128, 25.5/128, 99.5/128, 100.5/128),
    'more half pixels': (23.5/128, 26.5/128, 98.5/128, 101.5/128),
    'tiny box': (60/128, 60/128, 63/128, 64/128),
    'off-centre, sub-pixel': (17.3/128, 44.8/128, 71.6/128, 107.2/128),
}

def released_crop_box(px_box, W, H, scale=1.3):
    "(l, t, r, b) the released crop takes for a box already in pixels: integers half to even, side int(scale x larger side), integer centre, start >= 0, cut at W, H."
    l, t, r, b = (round(float(v)) for v in px_box)
    side = int(max(r - l, b - t) * scale)
    x, y = max((l + r)//2 - side//2, 0), max((t + b)//2 - side//2, 0)
    return x, y, x + min(W - x, side), y + min(H - y, side)

def released_crop(a, frac_box, scale=1.3):
    "The released training crop of HxWx3 `a` for a box in fractions of the side: all four coordinates times the height, as the released code multiplies them."
    H, W = a.shape[:2]
    x0, y0, x1, y1 = released_crop_box([v*H for v in frac_box], W, H, scale)
    return a[y0:y1, x0:x1]

def released_resize(a, size=224):
    "scikit-image's resize on the 0..255 values (`preserve_range=True`), truncated to uint8: the released whole-image resize."
    from skimage.transform import resize
    return resize(a, (size, size), preserve_range=True).astype(np.uint8)

def released_negative(a, lms224, kind, ratio, warp_seed, size=224):
    "The released negative of a face `a` (e.g. 128 px): resized to `size` (scikit-image), manipulation `kind` there with landmarks of that image, back to the source size (PIL bilinear)."
    big = released_resize(a, size)
    out = bench.baseline_manipulate(big, None if lms224 is None else np.asarray(lms224, np.float64), kind, ratio, warp_seed)
    return np.asarray(Image.fromarray(np.uint8(out)).resize((a.shape[1], a.shape[0]), Image.BILINEAR))

def released_input(crop, size=224):
    "The released network input before normalisation: `ToTensor` then the tensor `Resize((size, size))` of torchvision 0.14 (bilinear, no antialiasing), [3, size, size] in [0, 1]."
    import torch, torch.nn.functional as F
    x = torch.tensor(np.asarray(crop)).permute(2, 0, 1).float().div(255)
    return F.interpolate(x[None], (size, size), mode='bilinear', align_corners=False, antialias=False)[0]

def released_evaluation(fit_feats, real_feats, fake_feats:dict, n_components=12, false_alarm=0.05):
    "The released GMM evaluation on ready features: scikit-learn's GMM (k-means++, seed 2024) on float32 features, threshold sorted(ll)[int(n * 0.05)], per generator Acc (ll >= threshold is photographic), AUC and AP with photographic faces positive; the mean row last."
    import pandas as pd
    from sklearn.mixture import GaussianMixture
    from sklearn.metrics import roc_auc_score, average_precision_score
    f32 = lambda x: np.asarray(x, np.float32)
    gm = GaussianMixture(n_components=n_components, init_params='k-means++', random_state=2024).fit(f32(fit_feats))
    ll_fit = sorted(gm.score_samples(f32(fit_feats)).tolist())
    thr = ll_fit[int(len(ll_fit)*false_alarm)]
    rows = {}
    for g, fake in fake_feats.items():
        r, f = gm.score_samples(f32(real_feats)).tolist(), gm.score_samples(f32(fake)).tolist()
        y, s = [1]*len(r) + [0]*len(f), r + f
        rows[g] = dict(acc=100*sum((p >= thr) == bool(l) for p, l in zip(s, y))/len(y), ap=100*average_precision_score(y, s), auc=100*roc_auc_score(y, s))
    res = pd.DataFrame(rows).T
    res.loc['mean'] = res.mean()
    res.attrs['threshold'] = thr
    return res
