"""Benchmark of `aigfd.losses.FiveTaskLoss`: forward + backward at batch 256 with 5 tasks, against the computation
of the authors' released code (the baseline below: per tag, all `triu` pairs of the batch at once, an erf-based
Phi, the fidelity loss; written from that description, not copied), and optionally a naive per-pair Python loop.

Run: `python benchmarks/losses.py [--bs 256] [--reps 20] [--threads 1] [--sigma paper|code] [--naive]`
Prints ms per call (wall and process CPU time) for each implementation and the speed ratios, after checking that they give the same loss and
the same gradients (within 1e-5)."""
import argparse, math, time
import torch
from aigfd.core import EXIF_TAGS
from aigfd.losses import FiveTaskLoss, SIGMA_PAPER, SIGMA_CODE

EPS = 1e-8

def _fid(p, g): return 1 - torch.sqrt(p*g + EPS) - torch.sqrt((1-p)*(1-g) + EPS)

def released_five_task_loss(preds, exif, manip, sigma):
    "Baseline, the released computation: per tag all i<j pairs at once (`torch.triu_indices`), Phi from `torch.erf`, fidelity, summed."
    i, j = torch.triu_indices(len(preds), len(preds), 1)
    total = preds.new_zeros(())
    for t in range(len(EXIF_TAGS)):
        a, b = exif[i, t], exif[j, t]
        g = (a > b).float() + 0.5*(a == b).float()
        p = 0.5*(1 + torch.erf((preds[i, t] - preds[j, t])/sigma/math.sqrt(2)))
        ok = ~(a.isnan() | b.isnan())  # missing EXIF, absent from the released data (--missing 0): such pairs are left out, as aigfd does
        total = total + (_fid(p, g) if ok.all() else _fid(p[ok], g[ok])).mean()
    return total + _fid(torch.sigmoid(preds[:, 4]), manip).mean()

def naive_five_task_loss(preds, exif, manip, sigma):
    "A naive reference (not what the authors run): Python loops over tags and over every i<j pair, one scalar at a time."
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

def make_batch(bs, seed=0, missing=0.):
    "Scores, EXIF with frequent ties (values rounded as real EXIF is), a share `missing` of faces without EXIF, and labels."
    g = torch.Generator().manual_seed(seed)
    preds = torch.randn(bs, 5, generator=g)
    exif = torch.stack([2**torch.randint(6, 13, (bs,), generator=g).float(),       # ISO 64..4096
                        torch.randint(14, 80, (bs,), generator=g).float()/10,       # f-number
                        1/2**torch.randint(1, 12, (bs,), generator=g).float(),      # exposure seconds
                        torch.randint(10, 300, (bs,), generator=g).float()], 1)     # focal length mm
    exif[torch.rand(bs, generator=g) < missing] = float('nan')
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
    ap.add_argument('--naive', action='store_true', help='also time the naive per-pair loop (slow)')
    ap.add_argument('--naive-reps', type=int, default=1)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--sigma', choices=['paper', 'code'], default='paper')
    ap.add_argument('--missing', type=float, default=0., help='share of faces without EXIF (the released data has none)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    sigma = SIGMA_PAPER if a.sigma == 'paper' else SIGMA_CODE
    args = make_batch(a.bs, missing=a.missing)
    vec = FiveTaskLoss(sigma=sigma)
    impls = {'released computation': lambda p, e, m: released_five_task_loss(p, e, m, sigma)}
    if a.naive: impls['naive per-pair loop'] = lambda p, e, m: naive_five_task_loss(p, e, m, sigma)
    lv, gv = fwd_bwd(vec, *args)
    P = a.bs*(a.bs-1)//2
    print(f"FiveTaskLoss forward+backward, batch {a.bs} ({P} pairs x 4 tags + 1 manipulation term), "
          f"sigma={sigma:.4g}, {a.missing:.0%} of faces without EXIF, float32, {a.threads} thread(s), torch {torch.__version__}")
    for name, f in impls.items():
        ln, gn = fwd_bwd(f, *args)
        dl, dg = (lv - ln).abs().item(), (gv - gn).abs().max().item()
        assert dl < 1e-5 and dg < 1e-5, f"{name} and FiveTaskLoss disagree: |dloss|={dl:.2e}, max|dgrad|={dg:.2e}"
        print(f"agreement with the {name}: loss {lv.item():.6f} vs {ln.item():.6f} (|diff| {dl:.1e}), max |grad diff| {dg:.1e}")
    tv = time_ms(vec, args, a.reps)
    print(f"{'aigfd FiveTaskLoss':<24}{tv[0]:10.2f} ms/call wall, {tv[1]:10.2f} ms CPU  (mean of {a.reps})")
    for name, f in impls.items():
        n = a.naive_reps if name.startswith('naive') else a.reps
        tb = time_ms(f, args, n)
        print(f"{name:<24}{tb[0]:10.2f} ms/call wall, {tb[1]:10.2f} ms CPU  (mean of {n}); "
              f"aigfd is {tb[0]/tv[0]:.2f}x wall, {tb[1]/tv[1]:.2f}x CPU time as fast")
    print("(CPU time is the steadier figure on a shared machine)")
