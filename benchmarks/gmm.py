"""GMM benchmark: torch scoring vs scikit-learn `score_samples`, and fit time of the paper's GMM.

Usage: python benchmarks/gmm.py [--threads 2] [--n-score 20000] [--fit-n 25000] [--fit-max-iter 100] [--skip-fit]
Synthetic 768-d features from a 12-component mixture with low-rank-plus-diagonal covariances (no real data needed).
Prints samples/second of both scorers on the same number of threads, their largest relative difference,
and the wall time / EM iterations of fitting `GaussianMixture(12, 'full', k-means++, reg_covar=1e-6, random_state=2024)`.
"""
import argparse, time, warnings
import numpy as np, torch
from threadpoolctl import threadpool_limits, threadpool_info
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky
from aigfd.gmm import GMMScorer, fit_gmm

def synthetic(n, d=768, k=12, rank=32, seed=0):
    "Features from a k-component mixture; also returns the true parameters."
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 2, (k, d)); A = rng.normal(0, 1, (k, d, rank)) / np.sqrt(rank)
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
        X, params = synthetic(a.n_score)
        gm = sklearn_gmm(*params); sc = GMMScorer.from_sklearn(gm)
        t_sk, ll_sk = best_of(lambda: gm.score_samples(X), a.reps)
        t_th, ll_th = best_of(lambda: sc.score(X), a.reps)
        rel = np.abs(ll_th - ll_sk).max() / np.abs(ll_sk).max()
        print(f"score {a.n_score} x 768, 12 components, {a.threads} threads: sklearn {a.n_score/t_sk:,.0f} samples/s ({t_sk:.2f} s), "
              f"torch {a.n_score/t_th:,.0f} samples/s ({t_th:.2f} s), speed-up {t_sk/t_th:.2f}x, max rel diff {rel:.1e}")
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
