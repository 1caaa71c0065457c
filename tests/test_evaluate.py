"Library-level tests of aigfd.evaluate, aigfd.testsets and aigfd.report: metrics against hand-computed values, protocol, loaders on layout fixtures, tables."
import numpy as np, pandas as pd, pytest
from PIL import Image
from sklearn import metrics
from aigfd.core import DataNotFoundError
from aigfd.features import ImageStats
from aigfd.preprocess import Preprocess
from aigfd.testsets import EvalDataError, read_list_file, read_generator_folders, read_diff, read_diffusionface, read_minibench
from aigfd.evaluate import detection_metrics, balanced_sample, evaluate_scores, split_real, cap_per_generator, evaluate_extractors, perturbation
from aigfd.report import table_i, table_ii, table_iii, to_markdown

def test_metrics_match_sklearn_and_definitions():
    rng = np.random.default_rng(0)
    r, f = rng.normal(1, 1, 500), rng.normal(-1, 1, 400)
    m = detection_metrics(r, f, threshold=0.)
    y, s = np.r_[np.ones(500), np.zeros(400)], np.r_[r, f]
    assert m['auc'] == pytest.approx(100*metrics.roc_auc_score(y, s))
    assert m['ap'] == pytest.approx(100*metrics.average_precision_score(y, s))
    assert m['acc'] == pytest.approx(100*((r >= 0).sum() + (f < 0).sum())/900)
    # at 5 % FPR: the share of real faces above the 95th percentile of fakes
    assert m['tpr@5%fpr'] == pytest.approx(100*(r > np.percentile(f, 95)).mean(), abs=1.)
    # equal-variance Gaussians 2 sigma apart: EER = Phi(-1) = 15.9 %
    assert m['eer'] == pytest.approx(15.9, abs=3)

def test_single_class_is_an_error():
    with pytest.raises(EvalDataError, match='need both'): detection_metrics([], [1, 2])
    with pytest.raises(EvalDataError, match='generators'): evaluate_scores(pd.DataFrame(dict(generator=['real']*3, ll=[1, 2, 3])), 0.)
    with pytest.raises(EvalDataError, match='0 photographic'): evaluate_scores(pd.DataFrame(dict(generator=['a']*3, ll=[1, 2, 3])), 0.)
    with pytest.raises(EvalDataError, match='NaN'): detection_metrics([1, np.nan], [0, 1])

def test_balanced_sample_seeded_and_capped():
    a = balanced_sample(100, 30, cap=20, seed=3); b = balanced_sample(100, 30, cap=20, seed=3)
    assert len(a[0]) == len(a[1]) == 20 and (a[0] == b[0]).all() and len(set(a[0])) == 20
    assert len(balanced_sample(10, 30, cap=5000)[1]) == 10

def test_evaluate_scores_balanced_per_generator():
    sc = pd.DataFrame(dict(generator=['real']*50 + ['x']*10 + ['y']*80, ll=np.r_[np.arange(50.), np.arange(10.) - 100, np.arange(80.) + 100]))
    r = evaluate_scores(sc, threshold=0., cap=30)
    assert r.loc['x', 'n_real'] == r.loc['x', 'n_fake'] == 10 and r.loc['y', 'n_fake'] == 30
    assert r.loc['x', 'auc'] == 100 and r.loc['y', 'auc'] == 0
    assert r.loc['mean', 'auc'] == 50

def save(p, k, smooth=False):
    p.parent.mkdir(parents=True, exist_ok=True)
    a = np.random.default_rng(k).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    Image.fromarray(np.full_like(a, 20*k % 255) if smooth else a).save(p)

def test_loaders(tmp_path):
    for k in range(2):
        save(tmp_path/'DiFF'/'test'/'Real'/f'{k}.jpg', k); save(tmp_path/'DiFF'/'test'/'i2i'/'SDEdit'/f'{k}.jpg', k)
        save(tmp_path/'DF'/'T2I'/'SDv2.1'/f'{k}.png', k); save(tmp_path/'CelebA-HQ'/'img'/f'{k}.jpg', k)
    d = read_diff(tmp_path/'DiFF', split='test')
    assert dict(d.generator.value_counts()) == {'real': 2, 'SDEdit': 2} and set(d.category) == {'', 'i2i'}
    (tmp_path/'CelebA-HQ'/'test.txt').write_text('img/0.jpg\nimg/1.jpg\n')
    df = read_diffusionface(tmp_path/'DF', real=tmp_path/'CelebA-HQ'/'test.txt')
    assert list(df.generator) == ['real', 'real', 'SDv2.1', 'SDv2.1']
    assert len(read_diffusionface(tmp_path/'DF', real=tmp_path/'CelebA-HQ'/'img')) == 4
    with pytest.raises(DataNotFoundError): read_list_file(tmp_path/'nope.txt')
    with pytest.raises(DataNotFoundError): read_diff(tmp_path/'DiFF', split='train')

def test_minibench_loader():
    mb = read_minibench()
    assert (mb.label == 'real').sum() == 907 and (mb.label == 'fake').sum() == 1947
    assert set(mb[mb.label == 'real'].source) == {'london', 'congress'}

def test_split_and_cap():
    t = pd.DataFrame(dict(path=list('abcdefgh'), label=['real']*6 + ['fake']*2, generator=['real']*6 + ['g']*2))
    fit, test = split_real(t, 0.5, seed=0)
    assert len(fit) == 3 and (test.label == 'real').sum() == 3 and not set(fit.path) & set(test.path)
    assert len(cap_per_generator(t, 1)) == 2

def test_tables():
    r = pd.DataFrame(dict(acc=[80., 90., 85.], ap=[70., 80., 75.], auc=[60., 70., 65.]), index=['a', 'b', 'mean'])
    t1 = table_i({'m': r})
    assert list(t1.columns.get_level_values(0)) == ['a', 'a', 'b', 'b', 'Average', 'Average'] and t1.loc['m', ('Average', 'AP')] == 75
    assert table_ii({'f': r}).loc['Average', 'f'] == 65 and table_iii({'v': r}).loc['v', 'Mean Acc'] == 85
    assert '| m | 80.00 | 70.00 |' in to_markdown(t1)

def test_end_to_end_on_fixture(tmp_path):
    "Image statistics must separate flat images from noise; identical preprocessing for both classes."
    for k in range(14): save(tmp_path/'real'/f'{k}.png', k, smooth=True)
    for k in range(5): save(tmp_path/'noise'/f'{k}.png', k)
    t = read_generator_folders(tmp_path)
    fit, test = split_real(t, 9, seed=0)
    ev = evaluate_extractors(fit, test, {'s': ImageStats()}, Preprocess(size=32, jpeg_quality=90), n_components=1, pca_dim=3)['s']
    assert ev['results'].loc['noise', 'auc'] == 100
    assert len(ev['failed']) == 0

def test_perturbations_keep_size():
    im = Image.new('RGB', (50, 30), (10, 200, 30))
    for k, lv in [('jpeg', 40), ('downscale', .3), ('blur', 2.)]: assert perturbation(k, lv)(im).size == (50, 30)
