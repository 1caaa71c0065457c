"Tests of aigfd.manipulate: equality with the authors' whole-image recipe (benchmarks/manipulate.py), fallbacks, batch, CLI"
import importlib.util, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, cv2, pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from PIL import Image
from aigfd.core import AigfdError
from aigfd.minibench import read_manifest
from aigfd.landmarks import landmarks_for
from aigfd.manipulate import region_box, region_mask, blend_mask, manipulate, manipulate_all, make_negative, to_size, generate_negatives, ManipulationExplorer, _fixed_kernel
from aigfd.warp import piecewise_affine

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location('bench_manipulate', ROOT/'benchmarks'/'manipulate.py')
ref = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(ref)  # the baseline: the authors' steps

def _lm(corners):
    "68 landmarks at (100,100) except the eye (42,45) and mouth (48,54) corners"
    lm = np.full((68, 2), 100.)
    lm[[42, 45, 48, 54]] = np.asarray(corners, float).reshape(4, 2)
    return lm

coord = st.floats(-60, 284, allow_nan=False, allow_infinity=False)
corners = st.lists(coord, min_size=8, max_size=8)

@settings(max_examples=300, deadline=None)
@given(corners, st.sampled_from(['eye', 'mouth']))
def test_region_matches_iterated_dilation(cs, region):
    lm = _lm(cs)
    box = region_box(lm, region, (224, 224))
    test = ref.baseline_box(lm, region, (224, 224))
    assert box == test
    if box is None: assert not region_mask(lm, region, (224, 224)).any(); return
    (i, j), div, mul = ref.REGIONS[region]
    p = lm[[i, j]].astype(np.int32)
    n = int(np.hypot(*(p[0]-p[1]).astype(float)) // div) * mul
    line = cv2.line(np.zeros((224, 224), np.uint8), tuple(map(int, p[0])), tuple(map(int, p[1])), 1, 2)
    np.testing.assert_array_equal(region_mask(lm, region, (224, 224)), cv2.dilate(line, ref.CROSS, iterations=n).astype(bool))

@settings(max_examples=200, deadline=None)
@given(st.integers(40, 300), st.integers(40, 300), st.data())
def test_blend_mask_matches_reference(h, w, data):
    l, t = data.draw(st.integers(0, w-4)), data.draw(st.integers(0, h-4))
    box = (l, t, data.draw(st.integers(l+4, w)), data.draw(st.integers(t+4, h)))
    np.testing.assert_allclose(blend_mask(box, (h, w)), ref.baseline_mask(box, (h, w)), atol=1e-6)

def test_fixed_kernel():
    for s in (7, 1):
        k = _fixed_kernel(s)
        assert k.sum() == 256 and len(k) == 91 and (k == k[::-1]).all()

GRIDS = [None] + [(r, c) for r in (2, 3, 4) for c in (2, 3, 4)]  # imgaug 0.4's random draw, then the nine fixed grids

@settings(max_examples=60, deadline=None)
@given(st.integers(30, 260), st.integers(30, 260), st.integers(0, 2**31-1), st.integers(0, 60), st.sampled_from(GRIDS))
def test_fast_warp_is_imgaug(h, w, seed, lo, grid):
    a = np.random.default_rng(seed).integers(lo, 256, (h, w, 3), dtype=np.uint8)   # lo>0: no zeros (skimage's clip)
    np.testing.assert_array_equal(piecewise_affine(a, seed, grid=grid), ref.baseline_warp(a, seed, grid))
    np.testing.assert_array_equal(piecewise_affine(a, seed, backend='imgaug', grid=grid), ref.baseline_warp(a, seed, grid))

@pytest.mark.parametrize('grid', GRIDS[1:])
def test_fast_warp_every_grid_real_face(grid):
    "Pixel-identical to imgaug on a real face for each of the nine grids (several seeds each)"
    f = read_manifest().query("role=='real_face'").file.iloc[0]
    a, _ = to_size(f, None)
    for seed in range(4): np.testing.assert_array_equal(piecewise_affine(a, seed, grid=grid), ref.baseline_warp(a, seed, grid))

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corners, st.integers(0, 2), st.sampled_from([0.75, 1.]), st.integers(0, 2**31-1))
def test_manipulate_equals_reference_random(cs, kind, ratio, seed):
    a = np.random.default_rng(seed).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    lm = _lm(cs)
    r = manipulate(a, lm, kind, seed=seed, ratio=ratio, size=None)
    b = ref.baseline_manipulate(a, lm, kind, r.ratio, r.warp_seed)
    np.testing.assert_array_equal(r.image, b)

@pytest.fixture(scope='module')
def faces():
    real = read_manifest().query("role=='real_face'")
    fs = [f for f in real.file if '/london/' in f][:3] + [f for f in real.file if '/congress/' in f][:3]
    df = landmarks_for(fs, backend='dlib', progress=False)
    assert (df.status == 'ok').all()
    return [to_size(f, p) for f, p in zip(df.file, df.landmarks)]

def test_real_faces_equal_reference(faces):
    for i, (a, lm) in enumerate(faces):
        for k in range(4):
            r = manipulate(a, lm, k, seed=i, size=None)
            assert r.kind_applied == k
            np.testing.assert_array_equal(r.image, ref.baseline_manipulate(a, lm, k, r.ratio, r.warp_seed))
            assert (r.image != a).any()

def test_flip_geometry(faces):
    a, lm = faces[0]
    for k, flip in [(0, -1), (1, 1), (2, 1)]:
        r = manipulate(a, lm, k, seed=0, ratio=1.)
        l, t, rr, b = region_box(lm, 'eye' if k == 2 else 'mouth', a.shape)
        pl, pt, pr, pb = l-5, t-5, rr+5, b+5
        y, x = np.unravel_index(r.mask.argmax(), r.mask.shape)
        sy = y if flip == 1 else pt+pb-1-y
        np.testing.assert_array_equal(r.image[y, x], a[sy, pl+pr-1-x])
        far = r.mask == 0
        np.testing.assert_array_equal(r.image[far], a[far])   # outside the mask: untouched

def test_determinism_and_ratio(faces):
    a, lm = faces[1]
    for k in range(4):
        x, y = manipulate(a, lm, k, seed=5), manipulate(a, lm, k, seed=5)
        np.testing.assert_array_equal(x.image, y.image); assert x.ratio == y.ratio
    ratios = {manipulate(a, lm, 1, seed=s).ratio for s in range(40)}
    assert ratios == {0.75, 1.}
    assert not np.array_equal(manipulate(a, lm, 3, seed=1).image, manipulate(a, lm, 3, seed=2).image)
    np.testing.assert_array_equal(manipulate(a, lm, 0, seed=0, ratio=0.).image, a)
    np.testing.assert_array_equal(make_negative(a, lm, kind=2, rng=9), manipulate(a, lm, 2, seed=9).image)
    assert {make_negative(a, lm, rng=np.random.default_rng(s)).tobytes() for s in range(6)}.__len__() > 1

def test_fallbacks(faces):
    a, lm = faces[2]
    assert [r.kind_applied for r in manipulate_all(a, None, seed=0)] == [3, 3, 3, 3]
    assert [r.kind_applied for r in manipulate_all(a, np.full((68, 2), np.nan), seed=0)] == [3, 3, 3, 3]
    nan_mouth = lm.copy(); nan_mouth[48] = np.nan
    rs = manipulate_all(a, nan_mouth, seed=0)
    assert [r.kind_applied for r in rs] == [3, 3, 2, 3] and rs[0].note == 'no mouth region'
    assert [r.kind_applied for r in manipulate_all(a, lm + 10_000, seed=0)] == [3, 3, 3, 3]
    edge = lm - lm[48] + (-10, 200)   # mouth half outside the image: clipped, still flipped
    r = manipulate(a, edge, 1, seed=0, ratio=1.)
    assert r.kind_applied == 1 and (r.image != a).any()
    with pytest.raises(AigfdError, match='68, 2'): manipulate(a, lm[:10], 0)
    with pytest.raises(AigfdError, match='unknown manipulation'): manipulate(a, lm, 7)

def test_input_formats(faces):
    a, lm = faces[0]
    for img in (Image.fromarray(a).convert('L'), Image.fromarray(a).convert('RGBA'), Image.fromarray(a).convert('P'), a[..., 0]):
        assert manipulate(img, lm, 1, seed=0).image.shape == (224, 224, 3)
    tiny = np.asarray(Image.fromarray(a).resize((20, 20)))   # tiny face: worked on at 224 px
    r = manipulate(tiny, (lm+0.5)*20/224-0.5, 2, seed=0)
    assert r.image.shape == (224, 224, 3)
    with pytest.raises(AigfdError): manipulate(a.astype(np.float32), lm, 0)

@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv('AIGFD_CACHE', str(tmp_path/'cache'))
    real = read_manifest().query("role=='real_face'")
    f = [x for x in real.file if '/london/' in x][0]
    src = tmp_path/'src'; (src/'sub').mkdir(parents=True)
    im = Image.open(f)
    im.save(src/'rgb.jpg')
    im.convert('L').save(src/'sub'/'grey.png')
    im.convert('RGBA').save(src/'rgba.png')
    im.convert('P').save(src/'palette.png')
    Image.fromarray((np.asarray(im.convert('L')).astype(np.uint16)*257)).save(src/'sixteen.png')
    Image.new('RGB', (300, 200), (90, 90, 90)).save(src/'noface.png')
    Image.new('RGB', (10, 10)).save(src/'tiny.png')
    (src/'broken.jpg').write_bytes(b'\xff\xd8\xff not really a jpeg')
    (src/'empty.png').write_bytes(b'')
    return src

def test_generate_negatives(folder, tmp_path):
    df = generate_negatives(folder, tmp_path/'out', seed=3, progress=False)
    st_ = df.groupby('file').status.first().rename(lambda s: Path(s).name)
    assert len(df) == 9*4 and len(st_) == 9
    for n in ('rgb.jpg', 'grey.png', 'rgba.png', 'palette.png', 'sixteen.png'): assert st_[n] == 'ok', (n, st_[n])
    assert st_['noface.png'] == 'ok (warp: no face)'
    for n in ('tiny.png', 'broken.jpg', 'empty.png'): assert st_[n].startswith('unreadable'), (n, st_[n])
    ok = df[df.out.notna()]
    assert len(ok) == 6*4 and all(Path(p).exists() for p in ok.out)
    assert (tmp_path/'out'/'sub'/'grey_m0.png').exists()
    assert np.asarray(Image.open(tmp_path/'out'/'rgb_m2.png')).shape == (224, 224, 3)
    man = pd.read_csv(tmp_path/'out'/'manifest.csv')
    assert list(man.columns) == ['file', 'kind', 'kind_applied', 'ratio', 'warp_seed', 'out', 'landmarks', 'status']
    assert (man[man.file.str.endswith('noface.png')].kind_applied == 3).all()
    again = generate_negatives([folder/'rgb.jpg'], tmp_path/'out2', seed=3, progress=False)   # per-file streams
    np.testing.assert_array_equal(np.asarray(Image.open(again.out[3])), np.asarray(Image.open(tmp_path/'out'/'rgb_m3.png')))
    with pytest.raises(Exception, match='no such file'): generate_negatives(tmp_path/'nope', tmp_path/'o3')

def test_cli(folder, tmp_path):
    script = tmp_path/'cli.py'
    script.write_text('from aigfd.cli import aigfd_manipulate\naigfd_manipulate()\n')
    r = subprocess.run([sys.executable, str(script), str(folder/'rgb.jpg'), str(folder/'broken.jpg'), str(tmp_path/'cli_out'),
                        '--seed', '1', '--quiet'], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert '2 files, 4 negatives' in r.stdout and 'unreadable' in r.stdout
    assert len(list((tmp_path/'cli_out').glob('*_m*.png'))) == 4

def test_explorer(faces):
    ex = ManipulationExplorer({'a': faces[0], 'b': faces[3]}, seed=1)
    assert ex.panel.shape == (224, 448, 3) and ex.view.value[:4] == b'\x89PNG'
    assert ex.ratio.value == 0.5                                  # opens half-way: both ends a drag away
    import base64
    b = ex._repr_mimebundle_()                                    # the live widget, and its panel as a still image for the docs
    assert 'application/vnd.jupyter.widget-view+json' in b and base64.b64decode(b['image/png']) == ex.view.value
    ex.kind.value = 1; ex.ratio.value = 1.
    full = ex.result.image.copy()
    ex.ratio.value = 0.
    np.testing.assert_array_equal(ex.result.image, faces[0][0])
    ex.ratio.value = 0.5
    assert 0 < np.abs(ex.result.image.astype(int) - faces[0][0]).sum() < np.abs(full.astype(int) - faces[0][0]).sum()
    ex.show.value = True
    assert ex.panel.shape == (224, 896, 3) and ex.panel[:, 448:672].max() == 127   # r*M peaks at 0.5
    ex.face.value = 'b'
    np.testing.assert_array_equal(ex.panel[:, :224], faces[3][0])
