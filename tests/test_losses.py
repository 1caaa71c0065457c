"Library-level tests of `aigfd.losses`: brute-force agreement, invariances, numerics and gradients."
import math
import pytest
import torch
from hypothesis import given, settings, strategies as st
from aigfd.core import EXIF_TAGS, HEAD_NAMES, AigfdError
from aigfd.losses import (SIGMA_CODE, SIGMA_PAPER, pair_labels, thurstone_prob, fidelity_loss, ranking_loss,
                          manipulation_loss, FiveTaskLoss)

nan = float('nan')
EPS = 1e-8

def _phi(x): return 0.5*(1 + math.erf(x/math.sqrt(2)))
def _fid(p, g): return 1 - math.sqrt(p*g + EPS) - math.sqrt((1-p)*(1-g) + EPS)

def _naive_rank(s, v, sigma):
    "Per-pair Python reference for one tag: mean fidelity over valid i<j pairs (0 if none)."
    ls = []
    for i in range(len(s)):
        for j in range(i+1, len(s)):
            if math.isnan(v[i]) or math.isnan(v[j]): continue
            g = 1. if v[i] > v[j] else 0. if v[i] < v[j] else 0.5
            ls.append(_fid(_phi((s[i]-s[j])/sigma), g))
    return sum(ls)/len(ls) if ls else 0.

# values drawn from a small set so that ties and NaNs are frequent
_vals = st.sampled_from([nan, 1., 2., 2., 3., 1/250, 50.])

@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_vals, _vals), min_size=0, max_size=9))
def test_pair_labels_brute_force(rows):
    y = torch.tensor(rows, dtype=torch.float64).reshape(len(rows), 2)
    g, m = pair_labels(y)
    k = 0
    for i in range(len(rows)):
        for j in range(i+1, len(rows)):
            for t in range(2):
                a, b = rows[i][t], rows[j][t]
                ok = not (math.isnan(a) or math.isnan(b))
                assert bool(m[k, t]) == ok
                if ok: assert g[k, t].item() == (1. if a > b else 0. if a < b else 0.5)
                else: assert math.isnan(g[k, t].item())
            k += 1
    assert k == len(g)

@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 5), _vals), min_size=1, max_size=8),
       st.sampled_from([SIGMA_CODE, SIGMA_PAPER]))
def test_ranking_matches_per_pair_loop(rows, sigma):
    s = torch.tensor([r[0] for r in rows], dtype=torch.float64)
    v = torch.tensor([r[1] for r in rows], dtype=torch.float64)
    ref = _naive_rank(s.tolist(), v.tolist(), sigma)
    assert ranking_loss(s, v, sigma).item() == pytest.approx(ref, abs=1e-9)

def test_constants_and_thurstone():
    assert SIGMA_CODE == 0.5 and SIGMA_PAPER == pytest.approx(math.sqrt(2))
    d = torch.tensor([-1., 0., 0.3, 2.])
    assert torch.allclose(thurstone_prob(d, torch.zeros(4)), torch.tensor([_phi(2*x) for x in d.tolist()]))
    assert torch.allclose(thurstone_prob(d, torch.zeros(4), SIGMA_PAPER),
                          torch.tensor([_phi(x/math.sqrt(2)) for x in d.tolist()]))

def test_fidelity_hand_values():
    assert fidelity_loss(torch.tensor([0.8]), torch.tensor([1.])).item() == pytest.approx(1-math.sqrt(0.8+EPS)-1e-4, abs=1e-6)
    assert fidelity_loss(torch.tensor([0.25]), torch.tensor([0.5])).item() == pytest.approx(
        1-math.sqrt(0.125)-math.sqrt(0.375), abs=1e-6)

def test_minimum_not_zero_but_at_target():
    "With eps the minimum is ~-1e-4 at p=g for strict labels, and at p=0.5 for ties."
    ps = torch.linspace(0, 1, 1001, dtype=torch.float64)
    for gv, pmin, lmin in [(1., 1., 1-math.sqrt(1+EPS)-math.sqrt(EPS)), (0., 0., 1-math.sqrt(1+EPS)-math.sqrt(EPS)),
                           (0.5, 0.5, 1-2*math.sqrt(0.25+EPS))]:
        l = torch.stack([fidelity_loss(p, torch.tensor(gv, dtype=torch.float64)) for p in ps])
        assert ps[l.argmin()].item() == pytest.approx(pmin)
        assert l.min().item() == pytest.approx(lmin, abs=1e-12)

def test_perfect_ranking_reaches_minimum():
    v = torch.tensor([1., 5., 3., 9., 2.])
    s = torch.argsort(torch.argsort(v)).float()*50   # same order, far apart
    assert ranking_loss(s, v).item() == pytest.approx(1-math.sqrt(1+EPS)-math.sqrt(EPS), abs=1e-6)
    assert ranking_loss(-s, v).item() > 0.99

def test_permutation_invariance():
    "Relabelling the batch swaps i,j in some pairs; fidelity is symmetric under (p,g) -> (1-p,1-g)."
    torch.manual_seed(1)
    p, e, m = torch.randn(9, 5, dtype=torch.float64), torch.randn(9, 4, dtype=torch.float64), torch.randint(0, 2, (9,))
    e[::3, 1] = nan; e[4:6, 2] = 0.   # some missing, some ties
    lf, perm = FiveTaskLoss(), torch.randperm(9)
    a = lf(p, e, m); ta = dict(lf.last_terms)
    b = lf(p[perm], e[perm], m[perm])
    assert a.item() == pytest.approx(b.item(), abs=1e-12)
    assert all(ta[k] == pytest.approx(lf.last_terms[k], abs=1e-12) for k in HEAD_NAMES)

def test_nan_rows_do_not_change_others():
    torch.manual_seed(2)
    p, e, m = torch.randn(6, 5), torch.rand(6, 4), torch.randint(0, 2, (6,)).float()
    lf = FiveTaskLoss()
    lf(p, e, m); base = dict(lf.last_terms)
    # an extra face with no EXIF only adds to the manipulation term
    lf(torch.cat([p, torch.randn(1, 5)]), torch.cat([e, torch.full((1, 4), nan)]), torch.cat([m, torch.ones(1)]))
    for k in EXIF_TAGS: assert lf.last_terms[k] == pytest.approx(base[k], abs=1e-6)
    # a NaN manipulation label is ignored
    lf(torch.cat([p, torch.randn(1, 5)]), torch.cat([e, torch.rand(1, 4)]), torch.cat([m, torch.tensor([nan])]))
    assert lf.last_terms['manipulated'] == pytest.approx(base['manipulated'], abs=1e-6)

def test_masked_rows_get_no_gradient():
    p = torch.randn(5, 5, requires_grad=True)
    e = torch.rand(5, 4); e[3] = nan
    m = torch.tensor([0., 1., 0., 1., nan])
    FiveTaskLoss()(p, e, m).backward()
    assert (p.grad[3, :4] == 0).all() and p.grad[4, 4] == 0
    assert (p.grad[:3, :4] != 0).all()

@pytest.mark.parametrize('fill', [1e4, -1e4, 0.])
def test_extreme_and_identical_scores(fill):
    p = torch.full((16, 5), fill, requires_grad=True)
    e, m = torch.rand(16, 4), torch.randint(0, 2, (16,))
    l = FiveTaskLoss()(p, e, m); l.backward()
    assert l.isfinite() and p.grad.isfinite().all()

def test_mixed_extreme_scores_finite():
    torch.manual_seed(3)
    p = (torch.randn(32, 5)*1e4).requires_grad_()
    l = FiveTaskLoss(sigma=SIGMA_CODE)(p, torch.rand(32, 4), torch.randint(0, 2, (32,)))
    l.backward()
    assert l.isfinite() and p.grad.isfinite().all()
    assert l.item() < 5*1.0001   # each fidelity term is at most 1 (plus eps effects)

def test_degenerate_batches():
    lf = FiveTaskLoss(use_manip=False)
    for p, e in [(torch.zeros(1, 5), torch.rand(1, 4)),                 # batch of one: no pairs
                 (torch.randn(4, 5), torch.full((4, 4), nan)),          # every tag missing
                 (torch.zeros(0, 5), torch.zeros(0, 4))]:               # empty batch
        p.requires_grad_()
        l = lf(p, e, torch.zeros(len(p)))
        l.backward()
        assert l.item() == 0. and (p.grad == 0).all()
    # all ties with equal scores sit at the tie minimum
    assert lf(torch.zeros(6, 5), torch.ones(6, 4), torch.zeros(6)).item() == pytest.approx(
        4*(1-2*math.sqrt(0.25+EPS)), abs=1e-7)

def test_gradcheck_float64():
    torch.manual_seed(4)
    p = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    e = torch.randn(6, 4, dtype=torch.float64); e[1, 0] = nan; e[2:4, 3] = 1.
    m = torch.tensor([0, 1, 1, 0, 1, 0], dtype=torch.float64)
    for lf in (FiveTaskLoss(), FiveTaskLoss(sigma=SIGMA_CODE, weights=[1, 2, 0.5, 1])):
        assert torch.autograd.gradcheck(lambda x: lf(x, e, m), (p,))
    assert torch.autograd.gradgradcheck(lambda x: ranking_loss(x[:, 0], e[:, 0]), (p,))

def test_dtype_preserved_and_manip_formats():
    p = torch.randn(4, 5, dtype=torch.float64)
    assert FiveTaskLoss()(p, torch.rand(4, 4), torch.tensor([0, 1, 1, 0])).dtype == torch.float64
    ref = manipulation_loss(p[:, 4], torch.tensor([0., 1., 1., 0.]))
    for m in (torch.tensor([False, True, True, False]), torch.tensor([[0], [1], [1], [0]])):
        assert manipulation_loss(p[:, 4], m).item() == pytest.approx(ref.item())

def test_weights_and_ablation():
    torch.manual_seed(5)
    p, e, m = torch.randn(7, 5), torch.rand(7, 4), torch.randint(0, 2, (7,))
    lf = FiveTaskLoss(); full = lf(p, e, m); t = lf.last_terms
    assert full.item() == pytest.approx(sum(t.values()), abs=1e-6)
    assert FiveTaskLoss(use_manip=False)(p, e, m).item() == pytest.approx(full.item() - t['manipulated'], abs=1e-6)
    assert FiveTaskLoss(use_rank=False)(p, e, m).item() == pytest.approx(t['manipulated'], abs=1e-6)
    w = FiveTaskLoss(weights={'exposure': 3., 'iso': 0.})(p, e, m).item()
    assert w == pytest.approx(full.item() + 2*t['exposure'] - t['iso'], abs=1e-6)
    with pytest.raises(AigfdError): FiveTaskLoss(weights={'shutter': 1.})
    with pytest.raises(AigfdError): FiveTaskLoss()(p[:, :4], e, m)
    with pytest.raises(AigfdError): FiveTaskLoss()(p, e[:, :3], m)

def test_fastai_learner_and_tensorbase():
    from fastai.torch_core import TensorBase
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner
    from torch.utils.data import TensorDataset
    lf = FiveTaskLoss()
    p, e, m = torch.randn(5, 5), torch.rand(5, 4), torch.randint(0, 2, (5,))
    assert lf(TensorBase(p), TensorBase(e), TensorBase(m)).item() == pytest.approx(lf(p, e, m).item())
    torch.manual_seed(0)
    xs, e, m = torch.randn(40, 6), torch.rand(40, 4), torch.randint(0, 2, (40,)).float()
    e[::5] = nan
    def ds(sl):
        d = TensorDataset(xs[sl], e[sl], m[sl]); d.n_inp = 1
        return d
    learn = Learner(DataLoaders.from_dsets(ds(slice(0, 32)), ds(slice(32, None)), bs=8), torch.nn.Linear(6, 5), loss_func=lf)
    with learn.no_logging(): learn.fit(2, 1e-2)
    assert set(lf.last_terms) == set(HEAD_NAMES) and all(math.isfinite(v) for v in lf.last_terms.values())
    preds, _, dec = learn.get_preds(with_decoded=True)
    _, _, losses = learn.get_preds(with_loss=True)
    assert losses.shape == (8,) and losses.isfinite().all()
    assert ((preds[:, 4] > 0) & (preds[:, 4] < 1)).all()
    assert set(dec[:, 4].tolist()) <= {0., 1.}

@pytest.mark.parametrize('kw', [{}, {'use_manip': False}, {'use_rank': False}, {'weights': [2, 0, 1, 1], 'sigma': SIGMA_CODE}])
def test_reduction_none_shares_sum_to_total(kw):
    "Per-image shares (fastai's reduction='none') average to the total, with the same gradient."
    torch.manual_seed(6)
    p = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    e = torch.rand(7, 4, dtype=torch.float64); e[:3, 1] = 1.; e[2] = nan
    m = torch.tensor([0, 1, 1, 0, 1, nan, 0], dtype=torch.float64)
    tot = FiveTaskLoss(**kw)(p, e, m)
    per = FiveTaskLoss(reduction='none', **kw)(p, e, m)
    assert per.shape == (7,) and per.mean().item() == pytest.approx(tot.item(), abs=1e-12)
    g1, = torch.autograd.grad(tot, p); g2, = torch.autograd.grad(per.mean(), p)
    assert torch.allclose(g1, g2)
    if not kw.get('use_manip', True): assert per[2].item() == 0.   # image with no EXIF and only ranking terms
    with pytest.raises(AigfdError): FiveTaskLoss(reduction='max')(p, e, m)

def test_pickles():
    import pickle
    lf = pickle.loads(pickle.dumps(FiveTaskLoss(sigma=SIGMA_CODE, weights={'iso': 2.})))
    assert lf.sigma == SIGMA_CODE and lf.weights['iso'] == 2.
