"Library-level tests of `aigfd.landmarks`: real faces, no-face images, the cache, bad files and the FAN adapter."
import os, warnings
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from aigfd.core import AigfdError, DataNotFoundError
from aigfd.minibench import read_manifest
from aigfd.landmarks import Landmarker, FanBackend, landmarks_for, fan_weights, FAN_FILES, CORNERS, TEMPLATE_CORNERS, read_london_landmarks, corner_errors
from aigfd.core import file_sha256
import aigfd.landmarks as L

@pytest.fixture(scope='module')
def lm(): return Landmarker('dlib')

@pytest.fixture(scope='module')
def man(): return read_manifest()

@pytest.fixture(scope='module')
def london(): return read_london_landmarks()

def _files(man, prefix, n): return man[man.path.str.startswith(prefix)].file.iloc[:n].tolist()

def _plausible(p, w, h):
    "68 points inside the image, in iBUG layout: eyes above the nose tip above the mouth, left before right"
    assert p.shape == (68, 2) and p.dtype == np.float32
    assert (p >= 0).all() and (p[:, 0] <= w-1).all() and (p[:, 1] <= h-1).all()
    eye_y, nose_y, mouth_y = p[36:48, 1].mean(), p[30, 1], p[48:68, 1].mean()
    assert eye_y < nose_y < mouth_y
    assert p[36, 0] < p[39, 0] < p[42, 0] < p[45, 0] and p[48, 0] < p[54, 0]

def test_london_faces_inside_hand_placed_face(lm, london):
    files, tmpl = london
    for i in (0, 40, 90):
        p = lm(files[i])
        _plausible(p, 512, 512)
        lo, hi = tmpl[i].min(0), tmpl[i].max(0)  # the template outlines the whole head
        assert (p >= lo - 5).all() and (p <= hi + 5).all()
        e = corner_errors(p[None], tmpl[i:i+1])
        assert e.max() < 0.1, e

def test_other_sources(lm, man):
    for f in _files(man, 'faces_real/congress/', 3) + _files(man, 'faces_fake/sfhq_stylegan2/', 3):
        im = Image.open(f).convert('RGB')
        _plausible(lm(im), *im.size)

def test_input_types_agree(lm, man):
    f = _files(man, 'faces_real/congress/', 1)[0]
    a = np.asarray(Image.open(f).convert('RGB'))
    p = lm(f)
    np.testing.assert_array_equal(p, lm(a))
    np.testing.assert_array_equal(p, lm(Image.fromarray(a)))
    np.testing.assert_array_equal(p, lm(np.concatenate([a, np.full_like(a[..., :1], 255)], -1)))  # RGBA array

@pytest.mark.parametrize('img', [np.zeros((256, 256, 3), np.uint8), np.full((300, 200, 3), 255, np.uint8),
                                 np.random.default_rng(1).integers(0, 256, (320, 320, 3), dtype=np.uint8),
                                 np.random.default_rng(2).integers(0, 256, (40, 40, 3), dtype=np.uint8)])
def test_no_face_is_none(lm, img): assert lm(img) is None

def test_bad_arguments():
    with pytest.raises(AigfdError, match='unknown landmark backend'): Landmarker('mediapipe')
    with pytest.raises(AigfdError, match='uint8'): Landmarker('dlib')(np.zeros((64, 64, 3), np.float32))

def test_clipping(lm, man):
    a = np.asarray(Image.open(_files(man, 'faces_real/london/', 1)[0]).convert('RGB'))
    cut = np.ascontiguousarray(a[:, 200:])
    raw, clipped = Landmarker('dlib', clip=False)(cut), lm(cut)
    assert raw[:, 0].min() < 0 and clipped[:, 0].min() == 0
    inside = (raw[:, 0] >= 0)
    np.testing.assert_array_equal(raw[inside], clipped[inside])

def test_template_corners(london):
    "The template indices of the eye/mouth corners are the nearest template points on every face (data check)"
    files, tmpl = london
    p = Landmarker('dlib')(files[7])
    d = np.linalg.norm(tmpl[7][None] - p[list(CORNERS)][:, None], axis=-1)
    assert tuple(d.argmin(1)) == TEMPLATE_CORNERS

# ---- cache ----

def test_cache_hit_miss_and_content_key(lm, man, tmp_path):
    fs = _files(man, 'faces_real/london/', 3)
    r1 = landmarks_for(fs, lm, cache_root=tmp_path, progress=False)
    assert r1.status.tolist() == ['ok']*3 and not r1.cached.any()
    r2 = landmarks_for(fs, lm, cache_root=tmp_path, progress=False)
    assert r2.cached.all()
    for a, b in zip(r1.landmarks, r2.landmarks): np.testing.assert_array_equal(a, b)
    # keyed by content: a renamed copy hits, an edited file misses
    cp = tmp_path/'copy.jpg'; cp.write_bytes(Path(fs[0]).read_bytes())
    assert landmarks_for([cp], lm, cache_root=tmp_path, progress=False).cached[0]
    ed = tmp_path/'edited.png'; Image.open(fs[0]).transpose(Image.FLIP_LEFT_RIGHT).save(ed)
    assert not landmarks_for([ed], lm, cache_root=tmp_path, progress=False).cached[0]
    # another configuration has its own entries
    assert not landmarks_for(fs[:1], Landmarker('dlib', detect_size=None), cache_root=tmp_path, progress=False).cached[0]
    assert (tmp_path/lm.key/f'{file_sha256(fs[0])}.npy').exists()

def test_no_face_is_cached(lm, tmp_path):
    f = tmp_path/'blank.png'; Image.new('RGB', (200, 200), (90, 90, 90)).save(f)
    r1 = landmarks_for([f], lm, cache_root=tmp_path, progress=False)
    r2 = landmarks_for([f], lm, cache_root=tmp_path, progress=False)
    assert r1.status[0] == r2.status[0] == 'no face' and r2.cached[0] and r2.landmarks[0] is None

def test_cache_false_writes_nothing(lm, man, tmp_path):
    r = landmarks_for(_files(man, 'faces_real/london/', 1), lm, cache=False, cache_root=tmp_path, progress=False)
    assert r.status[0] == 'ok' and list(tmp_path.iterdir()) == []

def _entry(lm, root, f): return Path(root)/lm.key/f'{file_sha256(f)}.npy'

@pytest.mark.parametrize('damage', ['truncated', 'empty', 'garbage', 'wrong_shape', 'partly_nan', 'float64'])
def test_damaged_entry_is_recomputed(lm, man, tmp_path, damage):
    f = _files(man, 'faces_real/london/', 1)[0]
    good = landmarks_for([f], lm, cache_root=tmp_path, progress=False).landmarks[0]
    e = _entry(lm, tmp_path, f); full = e.read_bytes()
    bad = {'truncated': full[:len(full)//2], 'empty': b'', 'garbage': b'\x93NUMPY garbage'}
    if damage in bad: e.write_bytes(bad[damage])
    elif damage == 'wrong_shape': np.save(e, np.zeros((5, 2), np.float32))
    elif damage == 'float64': np.save(e, good.astype(np.float64))
    else: a = good.copy(); a[3] = np.nan; np.save(e, a)
    r = landmarks_for([f], lm, cache_root=tmp_path, progress=False)
    assert r.status[0] == 'ok' and not r.cached[0]
    np.testing.assert_array_equal(r.landmarks[0], good)
    assert e.read_bytes() == full  # repaired

def test_stray_temp_file_is_not_an_entry(lm, man, tmp_path):
    f = _files(man, 'faces_real/london/', 1)[0]
    e = _entry(lm, tmp_path, f); e.parent.mkdir(parents=True)
    np.save(tmp_path/'x.npy', np.zeros((68, 2), np.float32))
    (e.parent/f'.{e.stem}.q1w2.tmp').write_bytes((tmp_path/'x.npy').read_bytes())  # a complete-looking temp file
    r = landmarks_for([f], lm, cache_root=tmp_path, progress=False)
    assert not r.cached[0] and r.landmarks[0].max() > 0

def test_interrupted_write_leaves_no_entry(lm, man, tmp_path, monkeypatch):
    f = _files(man, 'faces_real/london/', 1)[0]
    def dying_save(fh, a, *args, **kw):
        fh.write(b'\x93NUMPY\x01\x00v\x00{partial'); raise KeyboardInterrupt  # dies half-way through the write
    monkeypatch.setattr(L.np, 'save', dying_save)
    with pytest.raises(KeyboardInterrupt): landmarks_for([f], lm, cache_root=tmp_path, progress=False)
    monkeypatch.undo()
    d = tmp_path/lm.key
    assert list(d.iterdir()) == []  # neither the entry nor the temp file is left
    r = landmarks_for([f], lm, cache_root=tmp_path, progress=False)
    assert r.status[0] == 'ok' and not r.cached[0]

def test_resumable_after_interruption(man, tmp_path, monkeypatch):
    fs = _files(man, 'faces_real/london/', 4)
    lm, calls = Landmarker('dlib'), []
    orig = L.DlibBackend.__call__
    def flaky(self, a):
        calls.append(1)
        if len(calls) == 3: raise KeyboardInterrupt
        return orig(self, a)
    monkeypatch.setattr(L.DlibBackend, '__call__', flaky)
    with pytest.raises(KeyboardInterrupt): landmarks_for(fs, lm, cache_root=tmp_path, progress=False)
    r = landmarks_for(fs, lm, cache_root=tmp_path, progress=False)
    assert r.cached.tolist() == [True, True, False, False] and (r.status == 'ok').all()
    assert len(calls) == 3 + 2  # only the two uncached files were computed again

def test_bad_files_get_a_status(lm, man, tmp_path):
    good = _files(man, 'faces_real/london/', 1)[0]
    (tmp_path/'empty.jpg').write_bytes(b'')
    (tmp_path/'text.jpg').write_text('not an image')
    (tmp_path/'trunc.jpg').write_bytes(Path(good).read_bytes()[:4000])
    Image.new('I;16', (80, 80), 40000).save(tmp_path/'grey16.png')
    Image.new('P', (80, 80), 3).save(tmp_path/'palette.png')
    Image.new('RGBA', (80, 80), (0, 0, 0, 0)).save(tmp_path/'rgba.png')
    Image.open(good).convert('L').save(tmp_path/'grey_face.png')
    Image.open(good).convert('RGBA').save(tmp_path/'rgba_face.png')
    names = ['empty.jpg', 'text.jpg', 'trunc.jpg', 'missing.jpg', 'grey16.png', 'palette.png', 'rgba.png', 'grey_face.png', 'rgba_face.png']
    r = landmarks_for([tmp_path/n for n in names] + [good], lm, cache_root=tmp_path/'c', progress=False)
    st = dict(zip(names + ['good'], r.status))
    for n in ('empty.jpg', 'text.jpg', 'trunc.jpg', 'missing.jpg'):
        assert st[n].startswith('unreadable: ') and n in st[n], st[n]
    assert 'empty' in st['empty.jpg'] and 'trunc' in st['trunc.jpg']
    for n in ('grey16.png', 'palette.png', 'rgba.png'): assert st[n] == 'no face'
    for n in ('grey_face.png', 'rgba_face.png', 'good'): assert st[n] == 'ok'

# ---- FAN ----

def test_fan_without_weights_raises_clear_error(tmp_path):
    assert fan_weights(tmp_path) is None
    with pytest.raises(DataNotFoundError, match='weights_dir') as e: Landmarker('fan', weights_dir=tmp_path)
    assert isinstance(e.value, AigfdError) and FAN_FILES['fan'] in str(e.value)

def test_auto_falls_back_to_dlib_with_message(tmp_path, caplog, recwarn):
    with caplog.at_level('INFO', logger='aigfd.landmarks'): lm = Landmarker('auto', weights_dir=tmp_path)
    assert lm.backend == 'dlib' and not [w for w in recwarn if 'FAN' in str(w.message)]  # an info line, not a warning
    assert [r.levelname for r in caplog.records if 'FAN weights not found' in r.getMessage()] == ['INFO']

def test_auto_prefers_fan_when_weights_present(tmp_path, monkeypatch):
    ck = tmp_path/'hub'/'checkpoints'; ck.mkdir(parents=True)
    for v in FAN_FILES.values(): (ck/v).write_bytes(b'w')
    seen = {}
    monkeypatch.setattr(L.FanBackend, '_load', staticmethod(lambda device, wd: seen.setdefault('args', (device, wd))))
    lm = Landmarker('auto', weights_dir=tmp_path)
    assert lm.backend == 'fan' and seen['args'] == ('cpu', tmp_path)

class _FakeFA:
    "Stand-in for face_alignment.FaceAlignment: two boxes in the detection image, points spread over the given box"
    def __init__(self, boxes): self.face_detector, self.boxes, self.calls = self, boxes, []
    def detect_from_image(self, img): self.det_shape = img.shape; return [np.array(b, np.float64) for b in self.boxes]
    def get_landmarks_from_image(self, img, detected_faces=None):
        self.calls.append((img.shape, detected_faces))
        l, t, r, b = detected_faces[0]
        return [np.stack([np.linspace(l, r, 68), np.linspace(t, b, 68)], 1)]

def test_fan_adapter_scales_largest_box():
    fa = _FakeFA([[0, 0, 20, 20, .99], [50, 60, 150, 190, .9], [5, 5, 30, 30, .8]])
    lm = Landmarker('dlib'); lm.model = FanBackend(detect_size=200, fa=fa)
    p = lm(np.zeros((800, 600, 3), np.uint8))
    assert fa.det_shape == (200, 150, 3) and fa.calls[0][0] == (800, 600, 3)
    np.testing.assert_allclose(fa.calls[0][1][0], [200, 240, 600, 760])
    assert p.shape == (68, 2) and p.dtype == np.float32
    np.testing.assert_allclose(p[[0, -1]], [[200, 240], [599, 760]])  # x clipped to the 600 px image
    assert FanBackend(fa=_FakeFA([]))(np.zeros((64, 64, 3), np.uint8)) is None

def test_fan_real_loading_from_local_weights(tmp_path, monkeypatch):
    "The real face_alignment loading code reads weights saved under the expected names from weights_dir; no download"
    torch = pytest.importorskip('torch'); fa_utils = pytest.importorskip('face_alignment.utils')
    from face_alignment.models import FAN
    from face_alignment.detection.sfd.net_s3fd import s3fd
    def no_download(*a, **k): raise AssertionError('tried to download')
    monkeypatch.setattr(torch.hub, 'download_url_to_file', no_download)
    monkeypatch.setattr(fa_utils, 'download_url_to_file', no_download)
    ck = tmp_path/'checkpoints'; ck.mkdir()
    torch.manual_seed(0)
    fan_sd, det_sd = FAN(4).state_dict(), s3fd().state_dict()
    torch.save(fan_sd, ck/FAN_FILES['fan']); torch.save(det_sd, ck/FAN_FILES['detector'])
    hub_before = torch.hub.get_dir()
    lm = Landmarker('fan', weights_dir=tmp_path)  # the real FanBackend._load
    assert lm.backend == 'fan' and torch.hub.get_dir() == hub_before  # the hub dir is restored
    fa = lm.model.fa
    for got, want in ((fa.face_alignment_net.state_dict(), fan_sd), (fa.face_detector.face_detector.state_dict(), det_sd)):
        assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    # (running the random 2DFAN4 costs ~5-20 s on 2 busy cores: done in the notebook's slow cell, not here)

def test_pickle_roundtrip(lm, man):
    import pickle
    f = _files(man, 'faces_real/congress/', 1)[0]
    lm2 = pickle.loads(pickle.dumps(Landmarker('dlib', detect_size=200, clip=False)))
    assert (lm2.backend, lm2.detect_size, lm2.clip) == ('dlib', 200, False)
    np.testing.assert_array_equal(lm2(f), Landmarker('dlib', detect_size=200, clip=False)(f))
