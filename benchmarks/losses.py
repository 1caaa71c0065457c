"""Benchmark of `aigfd.losses.FiveTaskLoss`: forward + backward at batch 256 with 5 tasks, against a naive
per-pair Python loop written straight from the paper's equations (the baseline below).

Run: `python benchmarks/losses.py [--bs 256] [--reps 20] [--naive-reps 1] [--threads 1] [--sigma paper|code]`
Prints ms per call (wall and process CPU time) for each implementation and the speed ratios, after checking that both give the same loss and
the same gradients (within 1e-5)."""
import argparse, math, time
import torch
from aigfd.core import EXIF_TAGS
from aigfd.losses import FiveTaskLoss, SIGMA_PAPER, SIGMA_CODE

EPS = 1e-8

def _fid(p, g): return 1 - torch.sqrt(p*g + EPS) - torch.sqrt((1-p)*(1-g) + EPS)

def naive_five_task_loss(preds, exif, manip, sigma):
    "Baseline: Python loops over tags and over every i<j pair, one scalar at a time."
    B, total = len(preds), preds.new_zeros(())
    ev, mv = exif.tolist(), manip.tolist()
    for t in range(len(EXIF_TAGS)):
        terms = []
        for i in range(B):
            for j in range(i+1, B):
                a, b = ev[i][t], ev[j][t]
                if math.isnan(a) or math.isnan(b): continue
                g = 1. if a > b else 0. if a < b else 0.5
                p = 0.5*(1 + torch.erf((preds[i, t] - preds[j, t])/sigma/math.sqrt(2)))
                terms.append(_fid(p, g))
        if terms: total = total + torch.stack(terms).mean()
    terms = [_fid(torch.sigmoid(preds[i, 4]), float(mv[i])) for i in range(B) if not math.isnan(mv[i])]
    if terms: total = total + torch.stack(terms).mean()
    return total

def make_batch(bs, seed=0):
    "Scores, EXIF with ~10% missing faces and frequent ties (values rounded as real EXIF is), and labels."
    g = torch.Generator().manual_seed(seed)
    preds = torch.randn(bs, 5, generator=g)
    exif = torch.stack([2**torch.randint(6, 13, (bs,), generator=g).float(),       # ISO 64..4096
                        torch.randint(14, 80, (bs,), generator=g).float()/10,       # f-number
                        1/2**torch.randint(1, 12, (bs,), generator=g).float(),      # exposure seconds
                        torch.randint(10, 300, (bs,), generator=g).float()], 1)     # focal length mm
    exif[torch.rand(bs, generator=g) < 0.1] = float('nan')
    manip = (torch.rand(bs, generator=g) < 0.5).float()
    return preds, exif, manip

def fwd_bwd(fn, preds, exif, manip):
    x = preds.clone().requires_grad_()
    l = fn(x, exif, manip)
    l.backward()
    return l.detach(), x.grad

def time_ms(fn, args, reps):
    "Mean wall and CPU ms per forward+backward call (the agreement check before it serves as warm-up)."
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(reps): fwd_bwd(fn, *args)
    return (time.perf_counter() - t0)/reps*1000, (time.process_time() - c0)/reps*1000

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--bs', type=int, default=256)
    ap.add_argument('--reps', type=int, default=20)
    ap.add_argument('--naive-reps', type=int, default=1)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--sigma', choices=['paper', 'code'], default='paper')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    sigma = SIGMA_PAPER if a.sigma == 'paper' else SIGMA_CODE
    args = make_batch(a.bs)
    vec = FiveTaskLoss(sigma=sigma)
    naive = lambda p, e, m: naive_five_task_loss(p, e, m, sigma)
    lv, gv = fwd_bwd(vec, *args)
    ln, gn = fwd_bwd(naive, *args)
    dl, dg = (lv - ln).abs().item(), (gv - gn).abs().max().item()
    assert dl < 1e-5 and dg < 1e-5, f"implementations disagree: |dloss|={dl:.2e}, max|dgrad|={dg:.2e}"
    P = a.bs*(a.bs-1)//2
    print(f"FiveTaskLoss forward+backward, batch {a.bs} ({P} pairs x 4 tags + 1 manipulation term), "
          f"sigma={sigma:.4g}, float32, {a.threads} thread(s), torch {torch.__version__}")
    print(f"agreement: loss {lv.item():.6f} vs {ln.item():.6f} (|diff| {dl:.1e}), max |grad diff| {dg:.1e}")
    tv = time_ms(vec, args, a.reps)
    tn = time_ms(naive, args, a.naive_reps)
    print(f"vectorised FiveTaskLoss: {tv[0]:10.2f} ms/call wall, {tv[1]:10.2f} ms CPU  (mean of {a.reps})")
    print(f"naive per-pair loop:     {tn[0]:10.2f} ms/call wall, {tn[1]:10.2f} ms CPU  (mean of {a.naive_reps})")
    print(f"speed-up: {tn[0]/tv[0]:.0f}x wall, {tn[1]/tv[1]:.0f}x CPU time "
          "(CPU time is the steadier figure on a shared machine)")
