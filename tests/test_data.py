"Tests of aigfd.data: items, crops, sampling, splits by source photo, loaders and bad input"
import json
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from PIL import Image
from hypothesis import given, settings, strategies as st
from aigfd.core import EXIF_TAGS, CLIP_MEAN, CLIP_STD, AigfdError
from aigfd.minibench import minibench_path
from aigfd.data import crop_sample, ManipDataset, split_items, get_dls, DatasetTooSmallError
from aigfd.items import make_items, minibench_items, fdf_items, folder_items, prepare_items, FakeFaceError
from aigfd.landmarks import face_crop_box

HAVE_MB = minibench_path(must_exist=False) is not None
needs_mb = pytest.mark.skipif(not HAVE_MB, reason='minibench not available')

def flip(a, lms, k, rng=None): return np.ascontiguousarray(a[:, ::-1])  # stand-in manipulation: labels only

def noise_png(p, size=96, seed=0):
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)).save(p)
    return p

def fdf_folder(root, n_photos=10, faces_per_photo=3, with_exif=True):
    "FDF-style folder: `n_photos` source photos with `faces_per_photo` faces each"
    root = Path(root); (root/'images/128').mkdir(parents=True); (root/'exif').mkdir()
    meta = {}
    for p in range(n_photos):
        for j in range(faces_per_photo):
            iid = f'{p*faces_per_photo + j:05d}'
            noise_png(root/f'images/128/{iid}.png', 128, int(iid))
            meta[iid] = dict(bounding_box=[0.2, 0.2, 0.8, 0.8], photo_id=f'ph{p}')
        if with_exif: (root/f'exif/ph{p}.json').write_text(json.dumps({'EXIF': {
            'ISO Speed Ratings': str(100*(p + 1)), 'Aperture Value': f'F{1.4 + p}', 'Exposure Time': f'1/{60*(p + 1)}sec', 'Focal Length': f'{20 + p}.0 mm'}}))
    (root/'fdf_metainfo.json').write_text(json.dumps(meta))
    return root

def test_fdf_layout(tmp_path):
    root = fdf_folder(tmp_path/'fdf', n_photos=2, faces_per_photo=2)
    meta = json.loads((root/'fdf_metainfo.json').read_text())
    meta['00000'] = dict(bounding_box=[10, 20, 60, 90], photo_url='https://www.flickr.com/photos/u/ph1/')  # pixels; id from the URL
    del meta['00001']['photo_id']; (root/'id_vs_fdfName.json').write_text(json.dumps({'00001': 'ph0'}))  # id from the mapping
    (root/'fdf_metainfo.json').write_text(json.dumps(meta))
    it = fdf_items(root)
    assert it.group.tolist() == ['ph1', 'ph0', 'ph1', 'ph1']
    assert it.loc[0, 'box'] == (10., 20., 60., 90.) and it.loc[1, 'box'] == pytest.approx((25.6, 25.6, 102.4, 102.4))
    np.testing.assert_allclose(it.loc[1, list(EXIF_TAGS)].to_numpy(float), [100, 1.4, 1/60, 20])
    np.testing.assert_allclose(it.loc[0, list(EXIF_TAGS)].to_numpy(float), [200, 2.4, 1/120, 21])
    assert (it.exif_status == 'ok').all()

def test_split_never_straddles_photos(tmp_path):
    it = fdf_items(fdf_folder(tmp_path/'fdf', n_photos=10, faces_per_photo=3))
    dls = get_dls(it, size=32, bs=4, manip_size=64, landmarker=False, manip_fn=flip, split_file=tmp_path/'s.csv')
    sides = dls.items.groupby('group').is_valid.nunique()
    assert len(sides) == 10 and (sides == 1).all()
    assert dls.counts['valid_groups'] == 2 and dls.counts['valid'] == 6
    tr = set(Path(f).name for f in dls.train.dataset.items.file); va = set(Path(f).name for f in dls.valid.dataset.items.file)
    assert not tr & va and len(tr | va) == 30
    saved = pd.read_csv(tmp_path/'s.csv', dtype=str)
    assert set(saved.group) == {f'ph{p}' for p in range(10)} and saved.split.value_counts()['valid'] == 2

def test_split_seeded_saved_reused(tmp_path):
    it = make_items([f'{i}.png' for i in range(100)], group=[f'g{i//2}' for i in range(100)])
    a = split_items(it, 0.2, seed=1, split_file=tmp_path/'s.csv')
    assert a.sum() == 20 and (split_items(it, 0.2, seed=1) == a).all() and (split_items(it, 0.2, seed=2) != a).any()
    assert (split_items(it, 0.5, seed=7, split_file=tmp_path/'s.csv') == a).all()  # the saved file wins
    (tmp_path/'bad.csv').write_text('x,y\n1,2\n')
    with pytest.raises(AigfdError, match='not a split file'): split_items(it, split_file=tmp_path/'bad.csv')

@needs_mb
def test_minibench_never_fake():
    it = minibench_items()
    assert len(it) == 907 + 145 and not it.file.str.contains('faces_fake').any()
    assert set(it.kind) == {'face', 'photo'} and (it[it.kind == 'photo'].iso.notna()).all()
    with pytest.raises(FakeFaceError): get_dls(it.assign(role='fake_face'))

def test_bad_files_skipped_with_status(tmp_path):
    good = [noise_png(tmp_path/f'{i}.png', seed=i) for i in range(8)]
    (tmp_path/'empty.jpg').write_bytes(b''); (tmp_path/'text.jpg').write_text('hello')
    files = good + [tmp_path/'empty.jpg', tmp_path/'text.jpg', tmp_path/'gone.jpg']
    it = make_items(files, kind='photo', exif=[[100, 2, 0.01, 30]]*len(files))
    dls = get_dls(it, size=32, bs=2, manip_size=48, landmarker=False, manip_fn=flip, split_file=tmp_path/'s.csv')
    bad = dls.status[dls.status.status.str.startswith('unreadable')]
    assert sorted(Path(f).name for f in bad.file) == ['empty.jpg', 'gone.jpg', 'text.jpg']
    assert bad.status.str.contains('empty file|not a readable image|not found').all()
    assert dls.counts['unreadable'] == 3 and dls.counts['usable'] == 8

def test_empty_and_too_small(tmp_path):
    with pytest.raises(DatasetTooSmallError, match='empty'): get_dls(make_items([]))
    it = make_items([noise_png(tmp_path/f'{i}.png', seed=i) for i in range(3)], kind='photo', exif=[[1, 2, 3, 4]]*3)
    with pytest.raises(DatasetTooSmallError, match='usable images'): get_dls(it, landmarker=False)
    (tmp_path/'m').mkdir(); (tmp_path/'m/fdf_metainfo.json').write_text('{}')
    with pytest.raises(DatasetTooSmallError): get_dls(tmp_path/'m')
    it = fdf_items(fdf_folder(tmp_path/'f', n_photos=4, faces_per_photo=3, with_exif=False))
    with pytest.raises(DatasetTooSmallError, match='EXIF'): get_dls(it, landmarker=False, manip_fn=flip)
    assert issubclass(DatasetTooSmallError, AigfdError)

def test_batch_format(tmp_path):
    it = fdf_items(fdf_folder(tmp_path/'fdf', n_photos=5, faces_per_photo=2))
    it.loc[3, 'iso'] = np.nan
    dls = get_dls(it, size=40, bs=4, manip_size=64, landmarker=False, manip_fn=flip, valid_pct=0.4, split_file=tmp_path/'s.csv')
    x, e, m = dls.train.one_batch()
    assert x.shape == (4, 3, 40, 40) and x.dtype == torch.float32 and e.shape == (4, 4) and m.shape == (4,)
    raw = x*torch.tensor(CLIP_STD).view(1, 3, 1, 1) + torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    assert raw.min() > -1e-4 and raw.max() < 1 + 1e-4 and raw.max() > 0.5
    assert set(m.tolist()) <= {0., 1.}
    ex = torch.cat([dls.train.dataset.exif, dls.valid.dataset.exif])
    assert int(ex.isnan().sum()) == 1  # the missing ISO stays NaN

def test_sampling_rates_and_epochs(tmp_path):
    files = [noise_png(tmp_path/f'{i}.png', seed=i) for i in range(6)]
    it = make_items(files, kind=['face']*4 + ['photo']*2).assign(lms=None)
    ds = ManipDataset(it, size=32, manip_size=48, manip_fn=flip)
    k = np.array([[ds.kind(i) for i in range(6)] for ds.epoch in range(500)])
    assert abs((k >= 0).mean() - 0.5) < 0.03
    fk = k[:, :4][k[:, :4] >= 0]
    np.testing.assert_allclose(np.bincount(fk, minlength=4)/len(fk), [0.25]*4, atol=0.03)
    assert set(k[:, 4:].ravel()) == {-1, 3}  # photos without a face: clean or warp
    ds.epoch = 3; a = ds[2][0]; _ = ds[0]; assert torch.equal(ds[2][0], a)  # independent of access order
    assert (k[:, 2] != k[0, 2]).any()  # changes with the epoch
    v = ManipDataset(it, train=False, manip_fn=flip)
    assert [v.kind(i) for i in range(6)] == [(setattr(v, 'epoch', 9), v.kind(i))[1] for i in range(6)]

def test_manipulated_keeps_exif_and_label(tmp_path):
    files = [noise_png(tmp_path/f'{i}.png', seed=i) for i in range(4)]
    it = make_items(files, exif=[[100*(i + 1), 2, 0.01, 30] for i in range(4)]).assign(lms=None)
    ds = ManipDataset(it, size=48, manip_size=48, manip_fn=flip, p_clean=0.)
    for i in range(4):
        x, e, m = ds[i]
        assert m == 1. and e[0] == 100*(i + 1)
        clean = ManipDataset(it, size=48, manip_size=48, manip_fn=flip, p_clean=1.)[i]
        assert clean[2] == 0. and torch.equal(x, clean[0].flip(-1))

@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300), st.integers(1, 300), st.floats(0, 1), st.floats(0, 1), st.floats(0.05, 1), st.floats(0.05, 1))
def test_face_crop_box_props(w, h, fx, fy, fw, fh):
    x0, y0 = fx*w*0.9, fy*h*0.9
    box = (x0, y0, min(w, x0 + fw*w), min(h, y0 + fh*h))
    l, t, r, b = face_crop_box(box, w, h)
    assert 0 <= l < r <= w and 0 <= t < b <= h
    side = max(1, int(max(box[2] - box[0], box[3] - box[1])*1.3))
    assert r - l <= side and b - t <= side
    if l > 0 and r < w: assert r - l == side  # unclamped: the full 1.3x side

def test_crop_moves_landmarks():
    img = Image.new('RGB', (200, 100))
    lms = np.array([[50, 40], [70, 60]] + [[60, 50]]*66, np.float32)
    a, l2 = crop_sample(img, (50, 40, 70, 60), lms, True, 52, np.random.default_rng(0))
    assert a.shape == (52, 52, 3)
    np.testing.assert_allclose(l2[:2], [[6, 6], [46, 46]], atol=1)  # box 20 px -> 26 px crop at (47,37) -> x2 to 52 px

def test_variants_cache_negatives(tmp_path):
    files = [noise_png(tmp_path/f'{i}.png', seed=i) for i in range(3)]
    it = make_items(files).assign(lms=None)
    calls = []
    def fn(a, lms, k, rng=None): calls.append(k); return flip(a, lms, k)
    ds = ManipDataset(it, size=32, manip_size=48, manip_fn=fn, p_clean=0., variants=1, cache_root=tmp_path/'c')
    out = {}
    for ds.epoch in range(40):
        for i in range(3): out.setdefault((i, ds.kind(i)), []).append(ds[i][0])
    assert len(calls) == len(out) <= 12  # each (item, kind) made once, then read from the cache
    assert all(torch.equal(v[0], x) for v in out.values() for x in v)  # V=1: one fixed negative per kind
    ds2 = ManipDataset(it, size=32, manip_size=48, manip_fn=fn, p_clean=0.)  # default: no cache, made every time
    n = len(calls); [ds2[0] for ds2.epoch in range(5)]
    assert len(calls) == n + 5

def test_num_workers_same_batches(tmp_path):
    it = fdf_items(fdf_folder(tmp_path/'fdf', n_photos=6, faces_per_photo=2))
    kw = dict(size=32, bs=4, manip_size=48, landmarker=False, manip_fn=flip, valid_pct=0.5, split_file=tmp_path/'s.csv')
    b0, b2 = [list(get_dls(it, num_workers=n, **kw).valid) for n in (0, 2)]
    assert len(b0) == len(b2) > 0
    for a, b in zip(b0, b2): assert all(torch.equal(x, y) for x, y in zip(a, b))

def exif_jpeg(p, iso, seed):
    im = Image.fromarray(np.random.default_rng(seed).integers(0, 255, (80, 100, 3), dtype=np.uint8))
    ex = Image.Exif(); sub = ex.get_ifd(0x8769)
    sub.update({0x8827: iso, 0x829D: 4.0, 0x829A: 0.01, 0x920A: 35.0})
    im.save(p, exif=ex); return p

def test_folder_of_photos(tmp_path):
    for i in range(10): exif_jpeg(tmp_path/f'{i}.jpg', 100*(i + 1), i)
    (tmp_path/'broken.jpg').write_bytes(b'\xff\xd8\xff garbage')
    it = folder_items(tmp_path)
    assert len(it) == 11 and sorted(it.iso.dropna()) == [100.*(i + 1) for i in range(10)]
    dls = get_dls(tmp_path, size=32, bs=4, manip_size=48, landmarker=False, manip_fn=flip, split_file=tmp_path/'s.csv')
    assert dls.counts['usable'] == 10 and dls.counts['unreadable'] == 1 and dls.counts['exif_complete'] == 10
    assert set(dls.items.kind) == {'photo'}
