"""GMM benchmark: torch scoring vs scikit-learn `score_samples`, and fit time of the paper's GMM.

Usage: python benchmarks/gmm.py [--threads 2] [--n-score 20000] [--fit-n 25000] [--fit-max-iter 100] [--skip-fit]
Synthetic 768-d features from a 12-component mixture with low-rank-plus-diagonal covariances (no real data needed),
in two versions: separated components (means spread as far as the clusters are wide) and overlapping components
(means 40x closer, the worst case for skipping components).
Prints the float64 matrix-product speed of this machine (the roofline of the full computation), samples/second of
scikit-learn's `score_samples`, of `GMMScorer.score` computing every component (`bound_rank=0`) and of the default
`GMMScorer.score` (skipping components whose bound rules them out), all on the same number of threads, with the
largest relative difference to scikit-learn; the same in float32, against scikit-learn on float32 features as the
released code runs it (`dtype='float32'`, protocol `released-code`); and the wall time / EM iterations of fitting
`GaussianMixture(12, 'full', k-means++, reg_covar=1e-6, random_state=2024)`.
"""
import argparse, time, warnings
import numpy as np, torch
from threadpoolctl import threadpool_limits, threadpool_info
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky
from aigfd.gmm import GMMScorer, fit_gmm

def synthetic(n, d=768, k=12, rank=32, seed=0, spread=2.):
    "Features from a k-component mixture whose means have standard deviation `spread`; also returns the true parameters."
    rng = np.random.default_rng(seed)
    means = rng.normal(0, spread, (k, d)); A = rng.normal(0, 1, (k, d, rank)) / np.sqrt(rank)
    w = rng.dirichlet(np.full(k, 5.)); z = rng.choice(k, n, p=w)
    X = means[z] + 0.3*rng.normal(size=(n, d))
    for j in range(k): X[z == j] += rng.normal(size=((z == j).sum(), rank)) @ A[j].T
    covs = A @ A.transpose(0, 2, 1) + 0.09*np.eye(d)
    return X, (w, means, covs)

def sklearn_gmm(w, means, covs):
    gm = GaussianMixture(len(w), covariance_type='full')
    gm.weights_, gm.means_, gm.covariances_ = w, means, covs
    gm.precisions_cholesky_ = _compute_precision_cholesky(covs, 'full')
    gm.precisions_ = gm.precisions_cholesky_ @ gm.precisions_cholesky_.transpose(0, 2, 1)
    return gm

def best_of(f, reps=3):
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); r = f(); ts.append(time.perf_counter() - t)
    return min(ts), r

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=2); ap.add_argument('--n-score', type=int, default=20000)
    ap.add_argument('--fit-n', type=int, default=25000); ap.add_argument('--fit-max-iter', type=int, default=100)
    ap.add_argument('--skip-fit', action='store_true'); ap.add_argument('--reps', type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with threadpool_limits(a.threads):
        print('BLAS:', [(i['internal_api'], i['num_threads']) for i in threadpool_info()], '| torch threads:', torch.get_num_threads())
        A, B = np.random.rand(4096, 768), np.random.rand(768, 12*768)
        gflops = 2*A.shape[0]*768*12*768/best_of(lambda: A @ B)[0]/1e9
        flops = 2*12*768*768  # per sample: one d x d product per component
        print(f"float64 matrix product (numpy BLAS, {a.threads} threads): {gflops:.0f} GFLOP/s, so scoring every component "
              f"of 12 x 768 costs {flops/1e6:.1f} MFLOP per sample: at most {gflops*1e9/flops:,.0f} samples/s")
        for label, spread in (('separated', 2.), ('overlapping', .05)):
            X, params = synthetic(a.n_score, spread=spread)
            gm = sklearn_gmm(*params); sc = GMMScorer.from_sklearn(gm)
            t_sk, ll_sk = best_of(lambda: gm.score_samples(X), a.reps)
            print(f"{label} components, score {a.n_score} x 768, 12 components, {a.threads} threads:")
            print(f"  sklearn score_samples     {a.n_score/t_sk:9,.0f} samples/s ({t_sk:.2f} s, {flops*a.n_score/t_sk/1e9:.0f} GFLOP/s)")
            for name, kw in (('torch, every component', dict(bound_rank=0)), ('torch, default (bounds)', {})):
                sc.score(X[:64], **kw)  # precomputes the bound directions once
                t_th, ll_th = best_of(lambda: sc.score(X, **kw), a.reps)
                rel = np.abs(ll_th - ll_sk).max() / np.abs(ll_sk).max()
                print(f"  {name:25s} {a.n_score/t_th:9,.0f} samples/s ({t_th:.2f} s), speed-up {t_sk/t_th:5.2f}x, max rel diff {rel:.1e}")
            # the released code's computation: scikit-learn keeps float32 features (and a float32 fit) in float32
            gm32 = sklearn_gmm(*(np.asarray(p, np.float32) for p in params)); X32 = X.astype(np.float32)
            sc32 = GMMScorer.from_sklearn(gm32, dtype='float32'); sc32.score(X32[:64])
            t32, ll32 = best_of(lambda: gm32.score_samples(X32), a.reps)
            print(f"  sklearn float32 (released)  {a.n_score/t32:7,.0f} samples/s ({t32:.2f} s)")
            for name, kw in (('torch float32, every comp.', dict(bound_rank=0)), ('torch float32, default', {})):
                t_th, ll_th = best_of(lambda: sc32.score(X32, **kw), a.reps)
                rel = np.abs(ll_th - ll32).max() / np.abs(ll32).max()
                print(f"  {name:25s} {a.n_score/t_th:9,.0f} samples/s ({t_th:.2f} s), speed-up {t32/t_th:5.2f}x vs sklearn float32, max rel diff {rel:.1e}")
        if not a.skip_fit:
            Xf, _ = synthetic(a.fit_n, seed=1)
            t = time.perf_counter()
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter('always')
                g = fit_gmm(Xf, n_components=12, max_iter=a.fit_max_iter)
            dt = time.perf_counter() - t
            print(f"fit {a.fit_n} x 768, 12 components, {a.threads} threads: {dt:.1f} s, {g.sklearn.n_iter_} EM iterations "
                  f"({dt/max(g.sklearn.n_iter_, 1):.1f} s/iteration incl. init), converged={g.sklearn.converged_}"
                  + ''.join(f"\n  warning: {x.message}" for x in w))
