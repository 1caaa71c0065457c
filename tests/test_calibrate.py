"Library-level tests of aigfd.calibrate and the detector's calibrated threshold: the promised false-alarm rate holds on new samples."
import json, warnings
import numpy as np, pytest, torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file
from aigfd.core import AigfdError
from aigfd.features import ImageStats
from aigfd.preprocess import Preprocess
from aigfd.gmm import fit_gmm
from aigfd.detector import Detector, check_fit_settings
from aigfd.calibrate import calibrate_threshold, crossfit_loglik, fpr_interval, select_gmm, fit_calibrated

def gaussian(n, d, seed):
    rng = np.random.default_rng(seed)
    A = np.random.default_rng(99).normal(size=(d, d))/np.sqrt(d)  # one fixed distribution, fresh samples per seed
    return rng.normal(size=(n, d)) @ A

@pytest.mark.parametrize('seed,n,d,k', [(0, 200, 24, 4), (1, 300, 32, 8), (2, 300, 32, 1), (3, 1000, 32, 8)])
def test_heldout_threshold_keeps_its_promise(seed, n, d, k):
    "Overfitted GMMs: the in-sample threshold flags far more than 5 % of new samples; cross-fitting never much more than 5 % (fewer when overfitted), and close to 5 % without overfitting; the calibration split close to 5 % given enough faces."
    X, Xnew = gaussian(n, d, seed), gaussian(20_000, d, seed + 100)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        rate = {}
        for rule in ('heldout', 'split', 'in-sample'):
            g, thr, _, rec = fit_calibrated(X, 0.05, rule, n_components=k)
            rate[rule] = (g.score(Xnew) < thr).mean()
            if rule != 'in-sample': assert rec['ci'][0] <= 0.05 <= rec['ci'][1] and rec['n'] == (n if rule == 'heldout' else n//5)
    assert rate['heldout'] <= 0.08 and rate['in-sample'] > 0.1, rate
    if k == 1: assert 0.025 <= rate['heldout'], rate
    if n >= 1000: assert 0.03 <= rate['split'] <= 0.08, rate

def test_crossfit_never_scores_a_face_with_its_own_model():
    "A face far from the rest is an outlier when held out: it is never scored by a GMM fitted on itself."
    X = gaussian(100, 4, 0); X = np.vstack([X, [[40., 40., 40., 40.]]])
    ll = crossfit_loglik(X, folds=5, n_components=1)
    assert ll[-1] < ll[:-1].min() - 100

def test_interval_matches_textbook():
    lo, hi = fpr_interval(15, 300)
    assert abs(lo - 0.0283) < 5e-4 and abs(hi - 0.0811) < 5e-4

def test_selection_prefers_the_true_complexity():
    rng = np.random.default_rng(5)
    X = rng.normal(0, 6, (4, 10))[rng.integers(0, 4, 800)] + rng.normal(size=(800, 10))
    sel = select_gmm(X, n_components=(1, 2, 4, 8), covariance_type=('full', 'diag'), reg_covar=1e-6, pca_dim=None, progress=False)
    assert sel.attrs['best']['n_components'] == 4 and sel.attrs['best']['covariance_type'] == 'diag', sel.head()

def test_detector_stores_and_reloads_calibration(tmp_path):
    X = gaussian(120, 41, 3).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        det = Detector.fit(None, ImageStats(), dict(kind='imagestats'), Preprocess(size=32), n_components='auto', pca_dim=(4, 8), covariance_type='auto', feats=X)
    c = det.calibration
    assert c['rule'] == 'heldout' and 0 < c['expected_fpr'] < 0.1 and c['selected'] == ['n_components', 'covariance_type', 'pca_dim']
    assert c['gmm']['pca_dim'] in (4, 8) and det.gmm.n_components == c['gmm']['n_components']
    det.save(tmp_path/'d.safetensors'); d2 = Detector.load(tmp_path/'d.safetensors')
    assert d2.calibration == json.loads(json.dumps(c)) and 'expected false-alarm rate on new photographs' in d2.describe_threshold()
    # a file written before calibration existed reads as the in-sample rule, with no promise about new photographs
    with safe_open(str(tmp_path/'d.safetensors'), 'pt') as f: meta, t = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    cfg = json.loads(meta['aigfd']); del cfg['calibration']; cfg['preprocess'].pop('border')
    save_file(t, str(tmp_path/'old.safetensors'), metadata={'aigfd': json.dumps(cfg)})
    old = Detector.load(tmp_path/'old.safetensors')
    assert old.calibration['rule'] == 'in-sample' and 'not estimated' in old.describe_threshold() and old.pre.border == 'stretch'

def test_bad_settings_refused_before_any_feature():
    class Boom(torch.nn.Module):
        def forward(self, x): raise AssertionError('features were extracted')
    for kw, words in [(dict(fpr=0.), 'strictly between 0 and 1'), (dict(fpr=1.), 'strictly between'), (dict(n_components=0), 'integer >= 1'),
                      (dict(n_components=5), '4 fitting faces for 5 GMM components'), (dict(n_components=4), 'need at least 5'),
                      (dict(threshold='median'), 'threshold')]:
        with pytest.raises(AigfdError, match=words):
            Detector.fit([Image.new('RGB', (8, 8))]*4, Boom(), dict(kind='imagestats'), **{'n_components': 1, **kw})
    check_fit_settings(4, 4, 0.05, 'in-sample')  # the in-sample rule needs only as many faces as components
