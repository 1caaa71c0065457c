"The `released-code` protocol value by value against the released computations (`tests/released_ref.py`): training crop, whole-image resize, negative chain, network input, trained-checkpoint heads, detector defaults."
import copy, warnings
import numpy as np
import pytest
import torch
from PIL import Image
from aigfd.landmarks import face_crop_box, Landmarker
from aigfd.data import skimage_resize_uint8, manipulate_whole, crop_sample
from aigfd.manipulate import BLEND_RATIOS
from released_ref import CROP_BOXES, released_crop, released_crop_box, released_resize, released_negative, released_input

def _img(h, w, seed=0): return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)

@pytest.mark.parametrize('name', list(CROP_BOXES))
def test_crop_fixture_boxes(name):
    "Every fixture box (odd sides, clamps at every border, half pixels): the crop's pixels equal the released crop's."
    a, fb = _img(128, 128), CROP_BOXES[name]
    ours = np.asarray(Image.fromarray(a).crop(face_crop_box([v*128 for v in fb], 128, 128, rounding='integer')))
    np.testing.assert_array_equal(ours, released_crop(a, fb))

def test_crop_random_boxes():
    "5,000 random boxes (sub-pixel and half-pixel coordinates, past any border) on images of other shapes: the same (l, t, r, b)."
    rng = np.random.default_rng(0)
    n = 0
    for _ in range(5000):
        W, H = (int(v) for v in rng.integers(24, 300, 2))
        x = np.sort(rng.uniform(-0.3, 1.3, 2))*W; y = np.sort(rng.uniform(-0.3, 1.3, 2))*H
        box = [x[0], y[0], x[1], y[1]]
        if rng.random() < 0.3: box = [np.floor(v) + 0.5 for v in box]  # ties of the rounding
        ref = released_crop_box(box, W, H)
        if not (ref[0] < W and ref[1] < H and ref[2] > ref[0] and ref[3] > ref[1]): continue  # empty released crop (box outside the image)
        assert face_crop_box(box, W, H, rounding='integer') == ref, (box, W, H); n += 1
    assert n > 3000

@pytest.mark.parametrize('shape', [(128, 128), (100, 131), (224, 224), (300, 260)])
def test_whole_image_resize(shape):
    "The 128 -> 224 resize equals scikit-image's `preserve_range` path, pixel for pixel."
    a = _img(*shape, seed=shape[0])
    np.testing.assert_array_equal(skimage_resize_uint8(a, 224), released_resize(a))

@pytest.fixture(scope='module')
def face128():
    "A real face as an FDF-like 128 px image and its dlib landmarks found on the 224 px resize (as the released code finds them), or skip."
    from aigfd.images import load_image
    from aigfd.minibench import minibench_path, read_manifest
    if minibench_path(must_exist=False) is None: pytest.skip('minibench not available')
    m = read_manifest()
    a = np.asarray(load_image(m[m.path.str.startswith('faces_real/london/neutral_')].file.iloc[3]).resize((128, 128), Image.BILINEAR))
    lm = Landmarker('dlib', detect_size=None)(released_resize(a))
    assert lm is not None and (lm == np.round(lm)).all()  # dlib: whole-number points
    return a, lm

@pytest.mark.parametrize('frame', ['whole', 'sub-pixel', 'none'])
@pytest.mark.parametrize('kind', [0, 1, 2, 3])
def test_negative_chain(face128, kind, frame):
    "Negative, crop and network input of the released chain, with the landmarks of the 224 px image (whole-number, sub-pixel, or no face)."
    a, lm = face128
    lms = {'whole': lm, 'sub-pixel': lm + np.random.default_rng(kind).uniform(-0.5, 0.5, lm.shape), 'none': None}[frame]
    for seed in range(3):
        g = np.random.default_rng([seed, kind]); gc = copy.deepcopy(g)
        r, ws = float(gc.choice(BLEND_RATIOS)), int(gc.integers(2**31))  # the draws `manipulate` makes first
        ours = np.asarray(manipulate_whole(Image.fromarray(a), lms, kind, g, lms_frame='work'))
        ref = released_negative(a, lms, kind, r, ws)
        np.testing.assert_array_equal(ours, ref)
        assert (ours != np.asarray(Image.fromarray(released_resize(a)).resize((128, 128), Image.BILINEAR))).sum() > 100  # something was manipulated
        fb = CROP_BOXES['fdf fixture (fractions)']
        x, _ = crop_sample(Image.fromarray(ours), [v*128 for v in fb], None, True, 224, g, rounding='integer')
        d = np.abs(x.astype(np.float64) - released_input(released_crop(ref, fb)).permute(1, 2, 0).numpy()*255).max()
        assert d <= 0.5 + 1e-3, d  # the network input: the released float values, rounded to uint8

def test_source_frame_moves_once(face128):
    "Landmarks of the 128 px source are moved to 224 px once: the same negative as giving the moved points in the work frame."
    a, lm = face128
    l128 = (lm.astype(np.float64) + 0.5)*128/224 - 0.5  # in float64, as `manipulate_whole` moves them
    for kind in range(4):
        g1, g2 = np.random.default_rng(kind), np.random.default_rng(kind)
        np.testing.assert_array_equal(np.asarray(manipulate_whole(Image.fromarray(a), l128, kind, g1)),
                                      np.asarray(manipulate_whole(Image.fromarray(a), (l128 + 0.5)*224/128 - 0.5, kind, g2, lms_frame='work')))

def _released_sd(model, heads=True, prefix=''):
    "A state dict in the layout of the authors' trained checkpoint built from our `model` (exposure head negated, as the released one ranks 1/seconds)."
    from aigfd.model import RELEASED_HEADS, EXIF_LAN_PREFIX
    sd = {prefix + EXIF_LAN_PREFIX + k: v for k, v in model.backbone.state_dict().items()}
    sd.update({prefix + EXIF_LAN_PREFIX + 'fc.weight': model.emb.weight.detach(), prefix + EXIF_LAN_PREFIX + 'fc.bias': model.emb.bias.detach(),
               prefix + 'model.positional_embedding': torch.zeros(77, 8), prefix + 'model.logit_scale': torch.tensor(4.6)})
    if heads: sd.update({f'{prefix}{h}.{p}': s*getattr(model.heads[i], p).detach() for i, (h, s) in enumerate(RELEASED_HEADS) for p in ('weight', 'bias')})
    return {'epoch': 3, 'model': sd, 'optimizer': {'state': {}, 'param_groups': [{'lr': 1e-5, 'betas': (0.9, 0.98)}]}}

@pytest.mark.parametrize('prefix', ['', 'module.'])
def test_released_checkpoint_loads_whole(tmp_path, prefix):
    "The trained-checkpoint layout loads backbone, embedding and all five heads: every output equals the source model's."
    from aigfd.model import AIGFDNet, load_weights
    torch.manual_seed(0)
    src = AIGFDNet('resnet18', emb_dim=32).eval()
    torch.save(_released_sd(src, prefix=prefix), tmp_path/'ckpt_epoch_9.pth')
    dst = AIGFDNet('resnet18', emb_dim=32)
    rep = load_weights(dst, tmp_path/'ckpt_epoch_9.pth')
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad(): torch.testing.assert_close(dst.eval()(x), src(x))
    assert rep['missing'] == [] and sorted(rep['unexpected']) == sorted(prefix + k for k in ('model.logit_scale', 'model.positional_embedding'))

def test_released_checkpoint_without_heads(tmp_path):
    "The EXIF-as-language layout (no heads): backbone and embedding load, the five heads are reported missing and stay as they were."
    from aigfd.model import AIGFDNet, load_weights
    src = AIGFDNet('resnet18', emb_dim=32).eval()
    torch.save(_released_sd(src, heads=False), tmp_path/'w.pth')
    dst = AIGFDNet('resnet18', emb_dim=32)
    before = [h.weight.detach().clone() for h in dst.heads]
    rep = load_weights(dst, tmp_path/'w.pth')
    assert len(rep['missing']) == 10 and all(torch.equal(a, h.weight) for a, h in zip(before, dst.heads))
    with torch.no_grad(): torch.testing.assert_close(dst.eval().embed(torch.ones(1, 3, 64, 64)), src.embed(torch.ones(1, 3, 64, 64)))

def test_detector_defaults_and_deviations(tmp_path):
    "Detector.fit: settings left unset are the protocol's; under released-code a contradicting one is honoured and recorded (kept in the file)."
    from aigfd.detector import Detector
    from aigfd.features import ImageStats
    X = np.random.default_rng(0).normal(size=(800, 41))  # as many dims as `ImageStats` gives, so the saved detector loads
    fit = lambda **kw: Detector.fit(None, ImageStats(), dict(kind='imagestats'), feats=X, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        rc, ho, pp = fit(protocol='released-code'), fit(protocol='released-code', threshold='heldout'), fit(protocol='paper', n_components=2)
    assert (rc.calibration['rule'], rc.pre.crop, rc.pre.jpeg_quality, rc.pre.resize, rc.gmm.n_components) == ('in-sample', 'none', None, 'tensor', 12)
    assert 'deviations' not in rc.info
    assert ho.calibration['rule'] == 'heldout' and ho.info['deviations'] == {'threshold': {'protocol': 'in-sample', 'used': 'heldout'}}
    assert (pp.calibration['rule'], pp.pre.crop, pp.pre.resize) == ('heldout', 'none', 'pil') and 'deviations' not in pp.info
    ho.save(tmp_path/"d.safetensors")
    assert Detector.load(tmp_path/'d.safetensors').info['deviations'] == ho.info['deviations']
