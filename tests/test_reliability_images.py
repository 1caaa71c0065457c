"Reliability: every entry point that reads images keeps going on a mixed folder and names the problem of each bad file."
import json, subprocess, sys, warnings
from pathlib import Path
import numpy as np, pandas as pd, pytest
from PIL import Image
from conftest import reason_ok, png_bomb, png_zero_bomb
from aigfd.core import AigfdError
from aigfd.images import ImageReadError, load_image, image_files
from aigfd.exif import exif_table, read_exif
from aigfd.landmarks import landmarks_for, Landmarker
from aigfd.manipulate import generate_negatives
from aigfd.data import get_dls
from aigfd.items import folder_items, prepare_items
from aigfd.detector import fit_detector

def _name(p): return Path(p).name

@pytest.fixture(scope='module')
def dlib(): return Landmarker('dlib')

# ---- the loader itself ----

def test_load_image_refuses_each_bad_file(image_zoo):
    _, _, bad = image_zoo
    for n, (p, words) in bad.items():
        with pytest.raises(ImageReadError) as e: load_image(p)
        assert str(p) in str(e.value) and reason_ok(e.value, words), (n, str(e.value))

def test_load_image_normalises_good_files(image_zoo):
    _, good, _ = image_zoo
    for n, p in good.items():
        im = load_image(p)
        assert im.mode == 'RGB', n
        a = np.asarray(im)
        assert a.dtype == np.uint8 and a.shape[2] == 3
    assert load_image(good['rotated.jpg']).size == (40, 80)  # stored 80x40, Orientation=6 applied
    assert load_image(good['rotated.jpg'], exif_transpose=False).size == (80, 40)
    assert np.asarray(load_image(good['gray16.png'])).max() > 200  # 16-bit range scaled to 8 bits, not clipped to 255 = white
    assert load_image(good['huge6000x4000.jpg']).size == (6000, 4000)

_BOMB_SCRIPT = r'''
import json, resource, sys, time
from aigfd.images import load_image, ImageReadError
out = {}
for f in sys.argv[1:]:
    r0, t = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    try: load_image(f); msg = 'LOADED'
    except ImageReadError as e: msg = str(e)
    out[f] = dict(msg=msg, s=time.perf_counter() - t, rss_mb=(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - r0)/1024)
print(json.dumps(out))
'''

def test_bombs_refused_quickly_without_memory(tmp_path):
    "A 100k x 100k header and a real 81-Mpx zero bomb (80 KB): refused in well under a second, RSS grows < 20 MB."
    (tmp_path/'hdr.png').write_bytes(png_bomb()); (tmp_path/'real.png').write_bytes(png_zero_bomb())
    r = subprocess.run([sys.executable, '-c', _BOMB_SCRIPT, str(tmp_path/'hdr.png'), str(tmp_path/'real.png')],
                       capture_output=True, text=True, timeout=120)
    res = json.loads(r.stdout.strip().splitlines()[-1])
    for f, v in res.items():
        assert reason_ok(v['msg'], ('decompression bomb', 'pixel limit')), v
        assert v['s'] < 1.0 and v['rss_mb'] < 20, v

# ---- every batch entry point on the mixed folder ----

def test_detector_score_mixed_folder(image_zoo, tiny_detector):
    root, good, bad = image_zoo
    sc = tiny_detector.score(root, progress=False).set_index(pd.Index([_name(p) for p in image_files(root)]))
    assert set(sc.index) == set(good) | set(bad)
    for n in good: assert np.isfinite(sc.loc[n, 'log_likelihood']) and sc.loc[n, 'verdict'] in ('photographic', 'AI-generated'), n
    for n, (_, words) in bad.items():
        assert np.isnan(sc.loc[n, 'log_likelihood']) and np.isnan(sc.loc[n, 'percentile'])
        assert reason_ok(sc.loc[n, 'verdict'], words), (n, sc.loc[n, 'verdict'])

def test_detector_score_pil_and_missing(tiny_detector, london_faces, tmp_path):
    "PIL images of odd modes are scored; a missing path gets a status, not an exception."
    ims = [Image.open(london_faces[0]).convert(m) for m in ('L', 'CMYK', 'RGBA', 'P')]
    sc = tiny_detector.score(ims, progress=False)
    assert np.isfinite(sc.log_likelihood).all()
    sc = tiny_detector.score([london_faces[0], tmp_path/'gone.jpg'], progress=False)
    assert np.isfinite(sc.log_likelihood[0]) and 'not found' in sc.verdict[1]

def test_fit_detector_skips_bad_files(image_zoo, tiny_model, london_faces, tmp_path):
    root, good, bad = image_zoo
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        det = fit_detector(list(london_faces) + [root], tiny_model, out=tmp_path/'d.safetensors', n_components=2, crop='none', jpeg_quality=None, size=64)
    assert det.n_fit == len(london_faces) + len(good)
    assert (tmp_path/'d.safetensors').exists()

def test_fit_detector_reports_bad_files(image_zoo, tiny_model, london_faces):
    root, good, bad = image_zoo
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        det = fit_detector(list(london_faces) + [root/'bad'], tiny_model, n_components=2, crop='none', jpeg_quality=None, size=64)
    report = ' '.join(str(x.message) for x in w) + json.dumps({k: v for k, v in det.info.items() if k != 'fitted_on'}, default=str)
    for n, (_, words) in bad.items(): assert n in report and reason_ok(report, words), n

def test_fit_detector_only_bad_files_clear_error(image_zoo, tiny_model):
    root, _, _ = image_zoo
    with pytest.raises(AigfdError, match='fitting samples'):
        fit_detector(root/'bad', tiny_model, n_components=2, crop='none', jpeg_quality=None, size=64)

def test_exif_table_mixed_folder(image_zoo):
    root, good, bad = image_zoo
    df = exif_table(root, progress=False).assign(name=lambda d: d.file.map(_name)).set_index('name')
    assert len(df) == len(good) + len(bad)
    for n in list(good) + ['tiny8.png']:  # a tiny image is a valid image for EXIF purposes
        assert not df.loc[n, 'status'].startswith('unreadable'), (n, df.loc[n, 'status'])
    for n, (_, words) in bad.items():
        if n in ('tiny8.png', 'bomb81mpx.png'): continue  # bomb81mpx: see test_read_exif_refuses_real_bomb
        assert df.loc[n, 'status'].startswith('unreadable') and reason_ok(df.loc[n, 'status'], words + ('not an image',)), (n, df.loc[n, 'status'])
    assert df[list(('iso', 'aperture', 'exposure', 'focal_length'))].isna().all().all()  # none of these files has camera EXIF

def test_read_exif_refuses_real_bomb(image_zoo):
    _, _, bad = image_zoo
    p, words = bad['bomb81mpx.png']
    assert reason_ok(read_exif(p)['status'], words)

def test_landmarks_for_mixed_folder(image_zoo, dlib, london_faces, tmp_path):
    root, good, bad = image_zoo
    files = image_files(root) + list(london_faces[:2])
    df = landmarks_for(files, dlib, cache_root=tmp_path/'lm', progress=False).assign(name=lambda d: d.file.map(_name)).set_index('name')
    for n, (_, words) in bad.items():
        assert df.loc[n, 'status'].startswith('unreadable') and reason_ok(df.loc[n, 'status'], words), (n, df.loc[n, 'status'])
        assert df.loc[n, 'landmarks'] is None
    for n in good: assert df.loc[n, 'status'] == 'no face', (n, df.loc[n, 'status'])  # noise / flat images
    for f in london_faces[:2]: assert df.loc[f.name, 'status'] == 'ok' and df.loc[f.name, 'landmarks'].shape == (68, 2)
    again = landmarks_for(files, dlib, cache_root=tmp_path/'lm', progress=False)  # bad files are never cached
    assert again.status.tolist() == df.status.tolist() and again.cached.sum() == len(good) + 2

def test_generate_negatives_mixed_folder(image_zoo, tmp_path, monkeypatch):
    monkeypatch.setenv("AIGFD_CACHE", str(tmp_path/"cache"))
    root, good, bad = image_zoo
    src = tmp_path/'src'; src.mkdir()
    for n, (p, _) in bad.items(): (src/n).write_bytes(Path(p).read_bytes())
    for n in ('cmyk.jpg', 'palette.png', 'gray16.png', 'rgba.png', 'rotated.jpg'): (src/n).write_bytes(good[n].read_bytes())
    man = generate_negatives(src, tmp_path/'neg', backend='dlib', size=64, progress=False)
    per = man.assign(name=man.file.map(_name)).groupby('name')
    for n, (_, words) in bad.items():
        st = per.get_group(n)
        assert len(st) == 4 and st.out.isna().all() and all(reason_ok(s, words) for s in st.status), (n, st.status.tolist())
    for n in ('cmyk.jpg', 'palette.png', 'gray16.png', 'rgba.png', 'rotated.jpg'):
        st = per.get_group(n)
        assert st.status.str.startswith('ok').all(), (n, st.status.tolist())
        for o in st.out: assert Image.open(o).size == (64, 64)
    assert (tmp_path/'neg'/'manifest.csv').exists()

def test_prepare_items_mixed_folder(image_zoo, dlib, london_faces, tmp_path, monkeypatch):
    monkeypatch.setenv('AIGFD_CACHE', str(tmp_path/'cache'))
    root, good, bad = image_zoo
    items = folder_items(root, *london_faces[:2])
    usable, status = prepare_items(items, dlib)
    st = status.assign(name=status.file.map(_name)).set_index('name').status
    for n, (_, words) in bad.items(): assert reason_ok(st[n], words) and st[n].startswith('unreadable'), (n, st[n])
    assert sorted(usable.file.map(_name)) == sorted(list(good) + [f.name for f in london_faces[:2]])
    assert (usable.kind == 'face').sum() == 2  # only the real faces got landmarks

def test_get_dls_mixed_folder(image_zoo, tmp_path, monkeypatch):
    monkeypatch.setenv('AIGFD_CACHE', str(tmp_path/'cache'))
    root, good, bad = image_zoo
    flip = lambda a, lms, k, rng=None: np.ascontiguousarray(a[:, ::-1])
    dls = get_dls(root, size=32, bs=4, manip_size=48, landmarker=False, manip_fn=flip, split_file=tmp_path/'s.csv', min_exif=0, min_items=4)
    st = dls.status.assign(name=dls.status.file.map(_name)).set_index('name').status
    for n, (_, words) in bad.items(): assert reason_ok(st[n], words), (n, st[n])
    assert dls.counts['unreadable'] == len(bad) and dls.counts['usable'] == len(good)
    x, e, m = dls.train.one_batch()
    assert x.shape[1:] == (3, 32, 32) and bool(x.isfinite().all())
    for b in dls.valid: assert bool(b[0].isfinite().all())
