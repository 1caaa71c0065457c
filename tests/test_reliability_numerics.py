"Numerics at the edges: losses, GMM and metrics stay finite or fail with a clear error."
import warnings
import numpy as np, pandas as pd, pytest, torch
from aigfd.core import AigfdError
from aigfd.losses import FiveTaskLoss, ranking_loss, manipulation_loss, fidelity_loss, SIGMA_CODE, SIGMA_PAPER
from aigfd.gmm import fit_gmm, GMMError, threshold_at, GMMScorer
from aigfd.detector_file import percentile_of
from aigfd.testsets import EvalDataError
from aigfd.evaluate import detection_metrics, evaluate_scores, split_real

@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        yield

# ---- losses ----

@pytest.mark.parametrize('fill', [0., 1e4, -1e4, 1e30, -1e30, 3.4e38])
@pytest.mark.parametrize('sigma', [SIGMA_CODE, SIGMA_PAPER])
def test_loss_identical_and_extreme_scores(fill, sigma):
    B = 6
    preds = torch.full((B, 5), fill, requires_grad=True)
    exif = torch.tensor([[100., 2.8, 1/250, 50.]]*3 + [[200., 4., 1/60, 35.]]*3)
    loss = FiveTaskLoss(sigma=sigma)(preds, exif, torch.tensor([0., 1.]*3))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(preds.grad).all()

def test_loss_alternating_extremes_and_all_missing():
    preds = torch.tensor([[1e30]*5, [-1e30]*5, [3e38]*5, [-3e38]*5], requires_grad=True)
    for exif, manip in [(torch.full((4, 4), float('nan')), torch.full((4,), float('nan'))),  # nothing known: loss 0
                        (torch.tensor([[1., 1e30, 1e-30, float('inf')]]*4), torch.tensor([1., 0., 1., 0.]))]:
        l = FiveTaskLoss()(preds, exif, manip); l.backward()
        assert torch.isfinite(l) and torch.isfinite(preds.grad).all()
    assert FiveTaskLoss()(preds, torch.full((4, 4), float('nan')), torch.full((4,), float('nan'))).item() == 0

def test_loss_single_item_batch_and_manip_only():
    l = FiveTaskLoss()(torch.zeros(1, 5), torch.ones(1, 4), torch.ones(1))  # no pairs in a batch of one
    assert torch.isfinite(l)
    assert torch.isfinite(manipulation_loss(torch.tensor([1e4, -1e4, 0.]), torch.tensor([1, 0, 1])))
    assert torch.isfinite(ranking_loss(torch.tensor([5., 5., 5.]), torch.tensor([1., 1., 1.])))  # all ties
    assert torch.isfinite(fidelity_loss(torch.tensor([0., 1.]), torch.tensor([float('nan')]*2)))

def test_loss_bad_shapes_clear_error():
    with pytest.raises(AigfdError, match='expected preds'): FiveTaskLoss()(torch.zeros(4, 3), torch.zeros(4, 4), torch.zeros(4))
    with pytest.raises(AigfdError, match='differ in shape'): ranking_loss(torch.zeros(4), torch.zeros(5))

# ---- GMM ----

def _feats(n=60, d=4, seed=0): return np.random.default_rng(seed).normal(size=(n, d))

def test_gmm_fewer_samples_than_components():
    with pytest.raises(GMMError, match='3 fitting samples for 8 components'): fit_gmm(_feats(3), 8)
    with pytest.raises(GMMError, match='0 fitting samples'): fit_gmm(np.zeros((0, 4)), 2)

@pytest.mark.parametrize('X,words', [(np.ones((20, 3)), 'distinct'), (np.repeat(_feats(1), 30, 0), 'distinct'),
                                     (_feats().ravel(), '2-D'), (np.r_[_feats(), [[np.nan]*4]], 'NaN'),
                                     (np.r_[_feats(), [[np.inf]*4]], 'NaN/inf')])
def test_gmm_degenerate_features_clear_error(X, words):
    with pytest.raises(GMMError, match=words): fit_gmm(X, 2)

def test_gmm_constant_columns_and_tiny_scale_finite():
    X = _feats(); X[:, 0] = 5.
    for Y in (X, X*1e-150, _feats()*1e12):
        g = fit_gmm(Y, 2)
        assert np.isfinite(g.score(Y)).all()

def test_gmm_scores_identical_rows_and_far_points():
    g = fit_gmm(_feats(), 2)
    s = g.score(np.r_[np.zeros((5, 4)), np.full((1, 4), 1e6), np.full((1, 4), -1e150)])
    assert np.isfinite(s).all() and (s[:5] == s[0]).all() and s[5] < s[0] and s[6] < s[5]
    with pytest.raises(GMMError, match='dims'): g.score(np.zeros((2, 3)))
    with pytest.raises(GMMError, match='NaN'): g.score(np.full((2, 4), np.nan))
    assert g.score(np.zeros((0, 4))).shape == (0,)

def _const_col(scale):
    X = _feats(); X[:, 0] = 5.
    return X*scale

@pytest.mark.parametrize('X', [_const_col(1e12), _feats()*1e200], ids=['const-column-1e12', 'scale-1e200'])
def test_gmm_large_scale_clear_error(X):
    try: g = fit_gmm(X, 2)
    except GMMError: return
    except Exception as e: raise AssertionError(f"raw {type(e).__name__}: {str(e)[:150]}") from None
    assert np.isfinite(g.score(X)).all()

def test_gmm_zero_components_clear_error():
    try: fit_gmm(_feats(), 0)
    except GMMError: return
    except Exception as e: raise AssertionError(f"raw {type(e).__name__}: {e}") from None

def test_threshold_and_percentile_degenerate():
    assert threshold_at([3., 3., 3.]) == 3.
    np.testing.assert_array_equal(percentile_of([1., 3., 5.], np.full(1001, 3.)), [0., 100., 100.])
    assert np.isfinite(percentile_of([-1e300, 1e300], np.linspace(-5, 5, 1001))).all()
    with pytest.raises(AigfdError, match='fpr'): threshold_at([1., 2.], fpr=1.)

# ---- evaluation ----

def test_single_class_evaluation_clear_error():
    real = pd.DataFrame(dict(generator=['real']*5, ll=np.arange(5.)))
    fake = pd.DataFrame(dict(generator=['sdxl']*5, ll=np.arange(5.)))
    with pytest.raises(EvalDataError, match='photographic and generated'): evaluate_scores(real, 0.)
    with pytest.raises(EvalDataError, match='photographic and generated'): evaluate_scores(fake, 0.)
    with pytest.raises(EvalDataError, match='need both'): detection_metrics([1., 2.], [])
    with pytest.raises(EvalDataError, match='need both'): detection_metrics([], [1.])
    with pytest.raises(EvalDataError, match='NaN/inf'): detection_metrics([1., np.nan], [2.])
    with pytest.raises(EvalDataError, match='NaN/inf'): detection_metrics([np.inf], [2.])
    with pytest.raises(EvalDataError, match='fitting faces'): split_real(pd.concat([real, fake]).assign(label=lambda d: np.where(d.generator == 'real', 'real', 'fake')).iloc[4:], 1)

def test_identical_scores_give_chance_metrics():
    m = detection_metrics([1.]*5, [1.]*5, threshold=1.)
    assert m['auc'] == 50 and m['acc'] == 50 and all(np.isfinite(v) for v in m.values())
    m = detection_metrics([1e300, -1e300], [0.], threshold=0.)
    assert all(np.isfinite(v) for v in m.values())
