"Tests of aigfd.teach: the rate functions, upload decoding, and the two views driven from code (no browser)"
import datetime, io, warnings
from pathlib import Path
import numpy as np, pytest, torch
from hypothesis import given, settings, strategies as st
from PIL import Image
from aigfd.core import EXIF_TAGS
from aigfd.images import ImageReadError, load_image
from aigfd.exif import read_exif
from aigfd.features import make_backbone
from aigfd.preprocess import Preprocess
from aigfd.detector import Detector
from aigfd.losses import thurstone_prob, SIGMA_CODE, SIGMA_PAPER
from aigfd.model import AIGFDNet
from aigfd.teach import (below_rate, false_alarm_rate, detection_rate, decode_upload, upload_items,
                         ScoreExplorer, PairRankingView)

def _noise(k, s=48):
    return Image.fromarray(np.random.default_rng(k).integers(0, 255, (s, s, 3), dtype=np.uint8))

def _bytes(im, fmt='png'):
    b = io.BytesIO(); im.save(b, format=fmt); return b.getvalue()

def _upload(view, name, data):
    view.upload.value = (dict(name=name, type='', size=len(data), content=memoryview(data),
                              last_modified=datetime.datetime.now()),)

# ---- rates
def test_rates_known_arrays():
    real, fake = np.array([-3., -2., -1., 0., 1., 2., 3., 4.]), np.array([-9., -8., -1., 5.])
    assert false_alarm_rate(real, 0.) == 3/8          # -3, -2, -1
    assert false_alarm_rate(real, -3.) == 0.           # strictly below
    assert detection_rate(fake, 0.) == 3/4
    assert detection_rate(fake, -8.) == 1/4
    assert false_alarm_rate([np.nan, 1., -1.], 0.) == 0.5                # NaN left out
    assert np.isnan(below_rate([np.nan, np.nan], 0.)) and np.isnan(below_rate([], 0.))

@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50), st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
def test_rates_monotone_and_exact(xs, t1, t2):
    lo, hi = sorted((t1, t2))
    assert false_alarm_rate(xs, lo) <= false_alarm_rate(xs, hi)
    assert detection_rate(xs, hi) == sum(x < hi for x in xs)/len(xs)

# ---- uploads
def test_decode_upload():
    im = decode_upload('x.jpg', _bytes(_noise(0).convert('L'), 'jpeg'))
    assert im.mode == 'RGB' and im.size == (48, 48)
    for name, data, msg in [('a.txt', b'hello', 'not a readable image'), ('e.png', b'', 'empty file'),
                            ('t.png', _bytes(_noise(1))[:50], "upload 't.png'"), ('/etc/passwd', b'x', "upload '/etc/passwd'")]:
        with pytest.raises(ImageReadError, match=msg): decode_upload(name, data)
    assert upload_items({'n.png': {'content': b'ab'}}) == [('n.png', b'ab')]

# ---- ScoreExplorer on a tiny real Detector (ImageStats features, synthetic images: bookkeeping, not detection)
@pytest.fixture(scope='module')
def det_setup(tmp_path_factory):
    d = tmp_path_factory.mktemp('faces')
    for k in range(30): _noise(k, 40 + k).save(d/f'r{k:02d}.png')
    files = sorted(d.glob('*.png'))
    spec = dict(kind='imagestats')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        det = Detector.fit(files[:20], make_backbone(**spec), spec, Preprocess(size=32, crop='center'), n_components=2, pca_dim=4)
    real = det.score(files[20:], progress=False).log_likelihood.to_numpy()
    fake = real - 5.
    return det, files, real, fake

def test_score_explorer_callbacks(det_setup):
    det, files, real, fake = det_setup
    ex = ScoreExplorer(det, real, fake, files=files[20:23])
    assert ex.threshold.value == pytest.approx(det.threshold)
    assert ex.ll == pytest.approx(det.score([files[20]], progress=False).log_likelihood[0])
    np.testing.assert_array_equal(ex.crop, np.asarray(det.pre.image(load_image(files[20]))))
    for t in (np.median(real), real.min() - 0.5, real.max() + 0.5):
        p0 = ex.plot.value
        ex.threshold.value = float(t)
        assert ex.far == false_alarm_rate(real, ex.threshold.value) and ex.dr == detection_rate(fake, ex.threshold.value)
        assert f'false-alarm rate {ex.far:.1%}' in ex.rates.value and f'detection rate {ex.dr:.1%}' in ex.rates.value
        assert ex.plot.value != p0 and ex.plot.value[:4] == b'\x89PNG'
    assert ex.info.value.endswith('AI-generated at this threshold')      # threshold above every real face
    ex.choice.value = ex.choice.options[2]
    assert ex.ll == pytest.approx(det.score([files[22]], progress=False).log_likelihood[0])

def test_score_explorer_uploads(det_setup, tmp_path):
    det, files, real, _ = det_setup
    bad = tmp_path/'bad.jpg'; bad.write_bytes(b'\xff\xd8\xff garbage')
    ex = ScoreExplorer(det, real, files=[files[21], bad])
    ex.choice.value = ex.choice.options[1]
    assert 'bad.jpg' in ex.message.value and np.isnan(ex.ll) and ex.crop is None and ex.info.value == ''
    _upload(ex, 'scan.docx', b'PK\x03\x04 not an image')
    assert "upload 'scan.docx'" in ex.message.value and ex.choice.value == ex.choice.options[1]
    im = _noise(99, 50)
    _upload(ex, 'me.png', _bytes(im))
    assert ex.choice.value == 'upload: me.png' and ex.message.value == ''
    assert ex.ll == pytest.approx(det.score([im], progress=False).log_likelihood[0])
    np.testing.assert_array_equal(ex.crop, np.asarray(det.pre.image(im)))

# ---- PairRankingView with a tiny random-init model
def _exif_photo(path, seed, iso, f, exp, fl):
    ex = Image.Exif(); sub = ex.get_ifd(0x8769)
    for tag, v in zip((0x8827, 0x829D, 0x829A, 0x920A), (iso, f, exp, fl)):
        if v is not None: sub[tag] = v
    _noise(seed, 80).save(path, exif=ex)
    return path

def test_pair_ranking_view(tmp_path):
    torch.manual_seed(0)
    net = AIGFDNet('resnet18', emb_dim=16, img_size=64)
    a = _exif_photo(tmp_path/'a.jpg', 0, 400, 2.8, 0.01, 50.)
    b = _exif_photo(tmp_path/'b.jpg', 1, 100, 2.8, 0.02, None)
    pv = PairRankingView(net, [a, b], sigma=SIGMA_CODE)
    with torch.inference_mode(): out = net.eval()(torch.stack([pv.pre(load_image(a)), pv.pre(load_image(b))]))[:, :4].double()
    np.testing.assert_allclose(pv.table['score A'], out[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pv.table['score B'], out[1].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pv.table['P(A > B)'], thurstone_prob(out[0], out[1], SIGMA_CODE).numpy(), rtol=1e-5)
    np.testing.assert_array_equal(pv.table['label'], [1., .5, 0., np.nan])       # iso larger, aperture tied, exposure smaller, focal missing
    assert pv.table.loc['iso', 'A'] == read_exif(a)['iso'] and 'photo B: missing focal_length' in pv.message.value
    pv.sigma.value = SIGMA_PAPER
    np.testing.assert_allclose(pv.table['P(A > B)'], thurstone_prob(out[0], out[1], SIGMA_PAPER).numpy(), rtol=1e-5)
    pv.a.value, pv.b.value = pv.b.value, pv.a.value                                # swapped: P -> 1-P, labels flip
    np.testing.assert_allclose(pv.table['P(A > B)'], 1 - thurstone_prob(out[0], out[1], SIGMA_PAPER).numpy(), rtol=1e-5)
    np.testing.assert_array_equal(pv.table['label'], [0., .5, 1., np.nan])
    assert pv.view_a.value[:4] == b'\x89PNG' and pv.pre.size == 64

def test_score_explorer_face_crop(det_setup):
    "With crop='face' the view shows the detector's landmark-box crop, the one `Detector.score` uses"
    import dataclasses
    from aigfd.core import DataNotFoundError
    from aigfd.minibench import read_manifest
    from aigfd.landmarks import face_crop_box
    from aigfd.landmarks import landmarks_for
    try: m = read_manifest()
    except DataNotFoundError: pytest.skip('minibench not available')
    f = m[m.path.str.contains('/london/')].file.iloc[0]
    det, _, real, _ = det_setup
    fdet = dataclasses.replace(det, pre=Preprocess(size=32, crop='face'))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')   # no FAN weights here: 'auto' (what Detector.score uses) falls back to dlib
        ex = ScoreExplorer(fdet, real, files=[f])
        pts = landmarks_for([f], backend='auto', progress=False).landmarks[0]
    im = load_image(f)
    box = face_crop_box((*pts.min(0), *pts.max(0)), *im.size, 1.3)
    np.testing.assert_array_equal(ex.crop, np.asarray(im.crop(box).resize((32, 32), Image.BILINEAR)))
    assert not np.array_equal(ex.crop, np.asarray(Preprocess(size=32, crop='center').image(im)))
