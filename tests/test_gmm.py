"Library-level tests of aigfd.gmm: torch scoring equals scikit-learn, detector files are safe and checked."
import json, os, pickle, warnings
import numpy as np, pytest, torch
from hypothesis import given, settings, strategies as st
from safetensors import safe_open
from safetensors.torch import save_file
from aigfd.core import AigfdError
from aigfd.features import make_backbone, read_weights, WeightsFileError
from aigfd.preprocess import Preprocess
from aigfd.gmm import GMMScorer, GMMError, fit_gmm, threshold_at
from aigfd.detector_file import DetectorFileError
from aigfd.detector import Detector

def mixture(n, d, k, seed):
    rng = np.random.default_rng(seed)
    c = rng.normal(0, 4, (k, d))
    return c[rng.integers(0, k, n)] + rng.normal(0, 1, (n, d)) * rng.uniform(.2, 2, d)

@settings(max_examples=8, deadline=None)
@given(d=st.integers(2, 40), k=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_torch_equals_sklearn(d, k, seed):
    X = mixture(60 * k + 40, d, k, seed)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        g = fit_gmm(X, n_components=k, max_iter=20)
    Xt = mixture(257, d, k, seed + 1) * 3   # includes far-away points (log-likelihoods in the thousands)
    ref = g.sklearn.score_samples(Xt)
    got = g.score(Xt, bs=100)                # several batches
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=0)

@settings(max_examples=12, deadline=None)
@given(d=st.integers(32, 128), k=st.integers(2, 8), r=st.sampled_from([1, 4, 8, None]), seed=st.integers(0, 10_000))
def test_skipping_components_is_exact(d, k, r, seed):
    "The bound-based scorer gives the full log-likelihood: equal to computing every component and to scikit-learn."
    X = mixture(60 * k + 40, d, k, seed)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        g = fit_gmm(X, n_components=k, max_iter=20)
    rng = np.random.default_rng(seed)
    Xt = np.concatenate([mixture(200, d, k, seed + 1), rng.normal(0, 12, (50, d)), g.sklearn.means_ + 1e-3])  # clusters, far away, at the means
    full = g.score(Xt, bs=64, bound_rank=0)
    np.testing.assert_allclose(g.score(Xt, bs=64, bound_rank=r), full, rtol=1e-12, atol=1e-9)  # atol: rounding where ll is near 0
    np.testing.assert_allclose(full, g.sklearn.score_samples(Xt), rtol=1e-9, atol=0)

def test_paper_defaults_and_768d():
    X = mixture(400, 768, 2, 0)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        g = fit_gmm(X, n_components=2, max_iter=3)
    assert any('singular' in str(x.message) for x in w)   # 200 samples per component in 768 dims
    p = g.sklearn.get_params()
    assert (p['covariance_type'], p['init_params'], p['reg_covar'], p['random_state']) == ('full', 'k-means++', 1e-6, 2024)
    np.testing.assert_allclose(g.score(X[:50]), g.sklearn.score_samples(X[:50]), rtol=1e-6)

def test_fit_errors():
    with pytest.raises(GMMError, match='3 fitting samples for 8 components'): fit_gmm(np.random.rand(3, 5))
    with pytest.raises(GMMError, match='distinct'): fit_gmm(np.tile(np.random.rand(2, 5), (20, 1)), n_components=4)
    with pytest.raises(GMMError, match='only 1 distinct'): fit_gmm(np.zeros((30, 5)), n_components=2)
    with pytest.raises(GMMError, match='constant'): fit_gmm(np.zeros((30, 5)), n_components=1)
    with pytest.raises(AigfdError): threshold_at([1, 2, 3], fpr=1.5)

def test_threshold_is_false_alarm_rate():
    X = mixture(2000, 4, 2, 3)
    g = fit_gmm(X, n_components=2)
    ll = g.score(X)
    assert abs((ll < threshold_at(ll, 0.05)).mean() - 0.05) < 0.002

class Evil:
    def __init__(self, path): self.path = str(path)
    def __reduce__(self): return (os.mkdir, (self.path,))

def test_evil_pickle_really_runs_when_unpickled(tmp_path):
    "Control: the crafted payload is live, so the refusals below mean something."
    pickle.loads(pickle.dumps(Evil(tmp_path/'ran')))
    assert (tmp_path/'ran').exists()

@pytest.mark.parametrize('name', ['det.safetensors', 'det.pth', 'det.pt'])
def test_malicious_pickle_refused(tmp_path, name):
    marker = tmp_path/'pwned'
    torch.save({'model': Evil(marker), 'threshold': 1.0}, tmp_path/name)
    with pytest.raises(DetectorFileError, match='not a safetensors detector'): Detector.load(tmp_path/name)
    with pytest.raises(WeightsFileError, match='refused'): read_weights(tmp_path/name)
    assert not marker.exists()

def small_detector(tmp_path):
    spec = dict(kind='timm', arch='resnet18')
    net = make_backbone(**spec)
    X = mixture(60, 512, 1, 0)
    det = Detector(Preprocess(size=32), spec, net, fit_gmm(X, 1, pca_dim=4), -5., np.linspace(-10, 0, 1001), n_fit=60)
    return det, det.save(tmp_path/'d.safetensors')

def test_roundtrip_and_header(tmp_path):
    det, p = small_detector(tmp_path)
    d2 = Detector.load(p)
    for k, v in det.gmm.tensors().items(): torch.testing.assert_close(d2.gmm.tensors()[k], v)
    sd1, sd2 = det.model.state_dict(), d2.model.state_dict()
    assert all(torch.equal(sd1[k], sd2[k]) for k in sd1)
    with safe_open(str(p), 'pt') as f: cfg = json.loads(f.metadata()['aigfd'])
    assert cfg['preprocess']['version'] == 1 and cfg['feat_dim'] == 512 and cfg['backbone']['arch'] == 'resnet18'

def _rewrite(src, dst, **changes):
    with safe_open(str(src), 'pt') as f: meta, t = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    cfg = json.loads(meta['aigfd']); cfg.update(changes)
    save_file(t, str(dst), metadata={'aigfd': json.dumps(cfg)})
    return dst

@pytest.mark.parametrize('change,msg', [
    (dict(backbone=dict(kind='timm', arch='resnet34')), 'do not fit backbone'),
    (dict(backbone=dict(kind='timm', arch='no_such_net')), 'cannot build backbone'),
    (dict(feat_dim=768), 'header says 768'),
    (dict(format='something-else'), 'not supported'),
    (dict(backbone=dict(kind='timm', arch='resnet18', weights='/etc/passwd')), 'fields other than'),
])
def test_mismatches_refused(tmp_path, change, msg):
    _, p = small_detector(tmp_path)
    with pytest.raises(DetectorFileError, match=msg): Detector.load(_rewrite(p, tmp_path/'x.safetensors', **change))

def test_preprocessing_version_refused(tmp_path):
    det, p = small_detector(tmp_path)
    pre = json.loads(det.pre.to_json()); pre['version'] = 2
    with pytest.raises(DetectorFileError, match='preprocessing version 2'): Detector.load(_rewrite(p, tmp_path/'x.safetensors', preprocess=pre))
