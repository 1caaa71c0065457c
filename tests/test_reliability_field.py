"Reliability: bad inputs from the field (issue 14), each kept as a test with its example value and another member of its kind."
import io, json, warnings
from contextlib import redirect_stdout, redirect_stderr
from pathlib import Path
import numpy as np, pandas as pd, pytest
from PIL import Image
from aigfd.core import AigfdError
from aigfd.images import load_image, scan_images, image_files, SkippedFilesWarning
from aigfd.cli import main
from conftest import run_cli
from aigfd.exif import exif_table, read_exif, meta_rows, EXIF_IFD
from aigfd.detector import Detector, fit_detector
from aigfd.evaluate import evaluate_detector
from aigfd.landmarks import Landmarker, landmarks_for
from aigfd.manipulate import generate_negatives
from aigfd.items import make_items, prepare_items

@pytest.fixture(scope='module')
def same_face(london_faces, tmp_path_factory):
    "One face saved as .jpg, .avif, .gif, .jfif and as a PNG without extension, plus files that are not images."
    d = tmp_path_factory.mktemp('formats')
    im = Image.open(london_faces[0]).convert('RGB').resize((128, 128))
    for n, fmt in (('face.jpg', 'JPEG'), ('face.avif', 'AVIF'), ('face.gif', 'GIF'), ('face.jfif', 'JPEG'), ('face_noext', 'PNG')): im.save(d/n, fmt)
    (d/'notes.txt').write_text('not an image'); (d/'.DS_Store').write_bytes(b'\0'*64)
    return d

IMAGES = {'face.jpg', 'face.avif', 'face.gif', 'face.jfif', 'face_noext'}
SKIPPED = {'notes.txt', '.DS_Store'}

# ---- 1. empty input ----

def test_empty_input_cli_and_api(tmp_path, det_file, tiny_detector, tiny_model):
    empty = tmp_path/'empty'; empty.mkdir()
    rc, out, err = run_cli('score', empty, '--detector', det_file)
    assert rc == 2 and 'no image files found' in err and len(err.strip().splitlines()) == 1, err
    with pytest.raises(AigfdError, match='no image files found'): tiny_detector.score([], progress=False)
    # other members: a folder with only non-images (the skipped file is named), and the other entry points
    only = tmp_path/'only'; only.mkdir(); (only/'readme.txt').write_text('hi')
    with pytest.raises(AigfdError, match=r'no image files found.*readme\.txt.*not an image'): tiny_detector.score(only, progress=False)
    rc, _, err = run_cli('score', only, '--detector', det_file)
    assert rc == 2 and 'no image files found' in err
    with pytest.raises(AigfdError, match='no image files found'): fit_detector(empty, tiny_model, crop='none', size=64)
    with pytest.raises(AigfdError, match='no image files found'): generate_negatives(empty, tmp_path/'neg', progress=False)

# ---- 2. one path-expansion rule ----

def test_api_expands_folders_like_cli(london_faces, tmp_path, det_file, tiny_detector):
    d = tmp_path/'some'/'folder'; d.mkdir(parents=True)
    for f in london_faces[1:4]: (d/f.name).write_bytes(f.read_bytes())
    api = tiny_detector.score([london_faces[0], tmp_path/'some'], progress=False)  # the README example: a file and a folder
    assert list(api.path) == [str(london_faces[0])] + [str(d/f.name) for f in london_faces[1:4]]
    assert np.isfinite(api.log_likelihood).all()
    rc, _, _ = run_cli('score', london_faces[0], tmp_path/'some', '--detector', det_file, '--csv', tmp_path/'s.csv', '--quiet')
    cli = pd.read_csv(tmp_path/'s.csv')
    assert rc == 0 and list(cli.path) == list(api.path)
    np.testing.assert_allclose(cli.log_likelihood, api.log_likelihood, rtol=1e-6)
    # another member: a PIL image beside a folder, and a folder given alone as a string
    mixed = tiny_detector.score([Image.open(london_faces[0]), str(d)], progress=False)
    assert len(mixed) == 4 and mixed.path[0] == '<image 0>' and np.isfinite(mixed.log_likelihood).all()

# ---- 3. folder scans: Pillow decides, skipped files reported ----

def test_scan_takes_every_format_pillow_reads(same_face):
    fs, sk = scan_images(same_face)
    assert {f.name for f in fs} == IMAGES and {f.name for f, _ in sk} == SKIPPED
    for f in fs: assert load_image(f).size == (128, 128)

def test_score_and_fit_see_every_format(same_face, tiny_detector, tiny_model, london_faces):
    sc = tiny_detector.score(same_face, progress=False)
    by = dict(zip(sc.path.map(lambda p: Path(p).name), sc.verdict))
    assert set(by) == IMAGES | SKIPPED
    for n in IMAGES: assert by[n] in ('photographic', 'AI-generated'), (n, by[n])
    assert by['notes.txt'].startswith('skipped: not an image') and by['.DS_Store'] == 'skipped: hidden file'
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        det = fit_detector([*london_faces, same_face], tiny_model, n_components=2, crop='none', jpeg_quality=None, size=64, dedup='none')  # one face in five formats: copies, kept here
    assert det.n_fit == len(london_faces) + len(IMAGES)
    assert {Path(r['path']).name for r in det.info['skipped']} == SKIPPED
    assert any(issubclass(x.category, SkippedFilesWarning) and 'notes.txt' in str(x.message) for x in w)

def test_exif_and_manipulate_see_every_format(same_face, tmp_path, monkeypatch):
    monkeypatch.setenv('AIGFD_CACHE', str(tmp_path/'cache'))
    t = exif_table(same_face, progress=False).assign(name=lambda d: d.file.map(lambda p: Path(p).name)).set_index('name')
    assert set(t.index) == IMAGES | SKIPPED
    for n in IMAGES: assert not t.status[n].startswith(('unreadable', 'skipped')), (n, t.status[n])
    for n in SKIPPED: assert t.status[n].startswith('skipped: ')
    man = generate_negatives(same_face, tmp_path/'neg', size=64, progress=False)
    per = man.assign(name=man.file.map(lambda p: Path(p).name)).groupby('name')
    for n in IMAGES: assert len(per.get_group(n)) == 4 and per.get_group(n).status.str.startswith('ok').all(), n
    for n in SKIPPED: assert per.get_group(n).status.iloc[0].startswith('skipped: ')
    rc, out, _ = run_cli('manipulate', same_face, tmp_path/'neg2', '--size', 64, '--quiet')
    assert rc == 0 and 'skipped' in out and f'{len(IMAGES) + len(SKIPPED)} files' in out

def test_evaluate_sees_every_format(same_face, london_faces, tiny_detector, tmp_path):
    fk = tmp_path/'fakes'; (fk/'gen').mkdir(parents=True)
    for f in london_faces[5:8]: (fk/'gen'/f.name).write_bytes(f.read_bytes())
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        res, sc = evaluate_detector(tiny_detector, same_face, fk, progress=False)
    assert (sc.generator == 'real').sum() == len(IMAGES) and res.loc['gen', 'n_real'] == 3
    assert any('notes.txt' in str(x.message) and 'hidden file' in str(x.message) for x in w)

# ---- 4. face status carried through ----

@pytest.fixture(scope='module')
def blue(tmp_path_factory):
    d = tmp_path_factory.mktemp('blue'); Image.new('RGB', (400, 300), (0, 0, 255)).save(d/'blue.png'); return d/'blue.png'

def test_no_face_in_manipulate_and_training_items(blue, london_faces, tmp_path, monkeypatch):
    monkeypatch.setenv('AIGFD_CACHE', str(tmp_path/'cache'))
    man = generate_negatives([blue, london_faces[0]], tmp_path/'neg', size=64, progress=False)
    b = man[man.file == str(blue.resolve())]
    assert (b.landmarks == 'no face').all() and (b.status[b.kind < 3] == 'ok (warp: no face)').all()
    assert (man[man.file != str(blue.resolve())].landmarks == 'ok').all()
    rc, out, _ = run_cli('manipulate', blue, london_faces[0], tmp_path/'neg2', '--size', 64, '--quiet')
    assert rc == 0 and 'face status: ' in out and '1 no face' in out and '1 ok' in out
    usable, status = prepare_items(make_items([blue, london_faces[0]], 'photo'), 'dlib')
    assert status.status.tolist() == ['no face', 'ok'] and usable.kind.tolist() == ['photo', 'face']

def test_status_columns_of_score_reach_every_output(blue, london_faces, det_file, tmp_path, monkeypatch):
    "Whatever status column `Detector.score` returns is printed by `aigfd score` and kept in evaluate's per-file scores."
    orig = Detector.score
    def with_face(self, *a, **k):
        df = orig(self, *a, **k); return df.assign(face=np.where(df.path.str.contains('blue'), 'no face', 'face found'))
    monkeypatch.setattr(Detector, 'score', with_face)
    rc, out, _ = run_cli('score', blue, london_faces[0], '--detector', det_file, '--quiet', '--engine', 'torch')  # the patched `Detector.score`
    assert rc == 0 and 'face' in out.splitlines()[0] and 'no face' in out and 'face found' in out
    fk = tmp_path/'fakes'; (fk/'gen').mkdir(parents=True); (fk/'gen'/'blue.png').write_bytes(blue.read_bytes())
    (fk/'gen'/'x.jpg').write_bytes(london_faces[3].read_bytes())
    _, sc = evaluate_detector(det_file, london_faces[:4], fk, progress=False)
    assert sc.set_index('path').face[str(fk/'gen'/'blue.png')] == 'no face'

# ---- 5. faces of ordinary size in large photos ----

def test_small_face_in_large_photo(london_faces, tmp_path):
    face = Image.open(london_faces[0]).convert('RGB')
    for (w, h), side, (x, y) in [((4000, 2666), 300, (2500, 1200)), ((3000, 2000), 200, (400, 300))]:
        big = Image.new('RGB', (w, h), (110, 110, 110)); big.paste(face.resize((side, side)), (x, y))
        big.save(tmp_path/'big.jpg', quality=92)
        assert Landmarker('dlib', min_face=None)(tmp_path/'big.jpg') is None  # the 320 px copy alone misses it
        p = Landmarker('dlib')(tmp_path/'big.jpg')
        assert p is not None and x <= p[:, 0].min() and p[:, 0].max() < x + side and y <= p[:, 1].min() and p[:, 1].max() < y + side
        big.save(tmp_path/f'big{w}.jpg', quality=92)
    # min_face=120: the second pass runs on a 2/3-size copy of the 4000 px photo, where the ~150 px face is still found
    r = landmarks_for([tmp_path/'big4000.jpg'], Landmarker('dlib', min_face=120), cache_root=tmp_path/'c', progress=False)
    assert r.status[0] == 'ok' and (tmp_path/'c'/'dlib-d320-m120').is_dir()

# ---- 6. ISO per EXIF 2.3, APEX from the CLI ----

def _jpeg(p, sub):
    ex = Image.Exif(); d = ex.get_ifd(EXIF_IFD)
    for k, v in sub.items(): d[k] = v
    Image.new('RGB', (32, 32), (90, 120, 150)).save(p, 'JPEG', exif=ex); return p

def test_iso_beyond_65535_and_zero(tmp_path):
    from PIL.TiffImagePlugin import IFDRational
    base = {0x829D: IFDRational(28, 10), 0x829A: IFDRational(1, 60), 0x920A: IFDRational(50, 1)}
    r = read_exif(_jpeg(tmp_path/'a.jpg', {**base, 0x8827: 65535, 0x8830: 2, 0x8832: 80000}))
    assert (r['iso'], r['status'], r['fallback']) == (80000., 'ok', 'iso<-RecommendedExposureIndex')
    r = read_exif(_jpeg(tmp_path/'b.jpg', {**base, 0x8827: 0, 0x8832: 400}))
    assert (r['iso'], r['status']) == (400., 'ok')
    r = read_exif(_jpeg(tmp_path/'c.jpg', {**base, 0x8827: 65535, 0x8830: 3, 0x8833: 409600}))
    assert r['iso'] == 409600.

def test_apex_only_file_from_cli(tmp_path):
    from PIL.TiffImagePlugin import IFDRational
    f = _jpeg(tmp_path/'apex.jpg', {0x9202: IFDRational(6, 1), 0x9201: IFDRational(8, 1), 0x920A: IFDRational(35, 1), 0x8827: 200})
    rc, out, _ = run_cli('exif', f, '--csv', tmp_path/'no.csv')
    no = pd.read_csv(tmp_path/'no.csv')
    assert rc == 0 and np.isnan(no.aperture[0]) and '--apex' in no.status[0]
    rc, out, _ = run_cli('exif', f, '--apex', '--csv', tmp_path/'yes.csv')
    yes = pd.read_csv(tmp_path/'yes.csv')
    assert rc == 0 and yes.status[0] == 'ok' and yes.aperture[0] == pytest.approx(8.) and yes.exposure[0] == pytest.approx(1/256)

# ---- 7. separators ----

def test_thousands_separator_in_metadata(tmp_path):
    pd.DataFrame({'file': ['a', 'b', 'c', 'd'], 'ISO': ['1,600', '12,800', '1.600', '1,6'],
                  'FNumber': ['2.8', '2,8', '4', '4'], 'ExposureTime': ['1/60', '1/60', '1,5 s', '1/60'],
                  'FocalLength': ['50 mm', '50 mm', '1,200 mm', '35']}).to_csv(tmp_path/'m.csv', index=False)
    t = exif_table(tmp_path/'m.csv').set_index('file')
    assert t.iso['a'] == 1600. and t.iso['b'] == 12800.
    assert np.isnan(t.iso['c']) and np.isnan(t.iso['d']) and 'invalid iso' in t.status['c'] and 'ambiguous comma' in t.status['d']
    assert np.isnan(t.aperture['b']) and np.isnan(t.exposure['c']) and np.isnan(t.focal_length['c'])  # refused, never misread
    assert not (t[['iso', 'aperture', 'exposure', 'focal_length']] == 1.).any().any()

# ---- 8. an unwritable landmark cache ----

def _deny_writes(monkeypatch):
    "A read-only cache folder (the tests may run as root, who could write anyway): every cache write is refused."
    import tempfile
    def denied(*a, **k): raise PermissionError(13, 'Permission denied')
    monkeypatch.setattr(tempfile, 'mkstemp', denied)

def test_read_only_cache_costs_speed_only(london_faces, tmp_path, monkeypatch):
    monkeypatch.setenv('AIGFD_CACHE', str(tmp_path/'ok'))
    files = london_faces[:4]
    ref_items, ref_st = prepare_items(make_items(files, 'photo'), 'dlib')
    ref_neg = generate_negatives(files, tmp_path/'neg_ok', size=64, progress=False)
    monkeypatch.setenv('AIGFD_CACHE', str(tmp_path/'ro')); _deny_writes(monkeypatch)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        items, st = prepare_items(make_items(files, 'photo'), 'dlib')
        neg = generate_negatives(files, tmp_path/'neg_ro', size=64, progress=False)
    assert st.status.tolist() == ref_st.status.tolist() == ['ok']*4 and (items.kind == 'face').sum() == 4
    for a, b in zip(items.lms, ref_items.lms): np.testing.assert_array_equal(a, b)
    assert neg.drop(columns='out').equals(ref_neg.drop(columns='out')) and (neg.status == 'ok').all()
    for a, b in zip(neg.out, ref_neg.out): np.testing.assert_array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
    assert len([x for x in w if 'cannot be written' in str(x.message)]) == 1

def test_uncreatable_cache_in_score(london_faces, tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv('AIGFD_CACHE', str(tmp_path/'ok'))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        det = fit_detector(london_faces[:6], tiny_model, tmp_path/'d.safetensors', n_components=1, crop='face', jpeg_quality=None, size=64)
    rc0, out0, _ = run_cli('score', *london_faces[6:9], '--detector', tmp_path/'d.safetensors', '--quiet')
    (tmp_path/'file').write_text('x'); monkeypatch.setenv('AIGFD_CACHE', str(tmp_path/'file'/'cache'))  # cannot be created
    rc, out, err = run_cli('score', *london_faces[6:9], '--detector', tmp_path/'d.safetensors', '--quiet')
    assert rc == rc0 == 0 and out == out0
    assert len([l for l in err.splitlines() if 'cannot be written' in l]) == 1

# ---- 9. float and high-bit-depth images ----

def test_float_tiff_not_blank(london_faces, tmp_path, tiny_detector):
    g = np.asarray(Image.open(london_faces[0]).convert('L'), np.float32)
    for name, a in (('unit.tif', g/255), ('f255.tif', g), ('f16.tif', g*257)):
        Image.fromarray(a, 'F').save(tmp_path/name)
        np.testing.assert_allclose(np.asarray(load_image(tmp_path/name))[..., 0], g, atol=1)
    Image.fromarray((g*1e4).astype(np.int32), 'I').save(tmp_path/'i32.tif')
    Image.fromarray(g/255 - .5, 'F').save(tmp_path/'neg.tif')
    sc = tiny_detector.score(tmp_path, progress=False)
    by = dict(zip(sc.path.map(lambda p: Path(p).name), zip(sc.log_likelihood, sc.verdict)))
    ref = tiny_detector.score([Image.fromarray(g.astype(np.uint8)).convert('RGB')], progress=False).log_likelihood[0]
    assert by['unit.tif'][0] == pytest.approx(ref, rel=1e-3, abs=1e-2)
    assert 'beyond 16 bits' in by['i32.tif'][1] and 'negative values' in by['neg.tif'][1]

# ---- 10. options and output paths checked before any image is read ----

def test_options_checked_before_work(london_faces, det_file, tmp_path, monkeypatch):
    import aigfd.preprocess, aigfd.landmarks
    def no_reading(*a, **k): raise AssertionError('an image was read before the options were checked')
    for m in (aigfd.preprocess, aigfd.landmarks): monkeypatch.setattr(m, 'load_image', no_reading)  # the modules that read images
    for args, msg in [(['--csv', tmp_path/'missing_dir'/'s.csv'], 'missing_dir does not exist'), (['--bs', 0], '--bs 0'),
                      (['--bs', -3], '--bs -3'), (['--json', tmp_path], 'is a folder'), (['--min-face', -1], '--min-face -1'),
                      (['--engine', 'tensorrt'], '--engine')]:
        rc, out, err = run_cli('score', london_faces[0], '--detector', det_file, *args)
        assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1 and not out, (args, err)
    rc, _, err = run_cli('manipulate', london_faces[0], tmp_path/'x'/'y', '--size', 8)
    assert rc == 2 and '--size 8' in err

# ---- 11. JSONL with a bad line; a generator whose files all fail ----

def test_jsonl_bad_line_kept_good_ones(tmp_path):
    lines = ['{"file": "a.jpg", "ISO": "200", "FNumber": "2.8"}', '{"file": "b.jpg", "ISO": 4', '', '{"file": "c.jpg", "ISO": "1,600"}', 'null']
    (tmp_path/'m.jsonl').write_text('\n'.join(lines) + '\n')
    t = exif_table(tmp_path/'m.jsonl')
    assert t.file.tolist()[:2] == ['a.jpg', 'c.jpg'] and t.iso.tolist()[:2] == [200., 1600.]
    assert t.status[2].startswith('unreadable line 2: malformed JSON') and t.status[3].startswith('unreadable line 5: not a JSON object')

def test_generator_with_only_unreadable_files_stays_in_table(london_faces, tiny_detector, det_file, tmp_path):
    fk = tmp_path/'fakes'; (fk/'good').mkdir(parents=True); (fk/'broken').mkdir(); (fk/'half').mkdir()
    for f in london_faces[5:8]: (fk/'good'/f.name).write_bytes(f.read_bytes())
    for i in range(3): (fk/'broken'/f'{i}.jpg').write_bytes(b'\xff\xd8\xff\xe0 truncated')
    (fk/'half'/'ok.jpg').write_bytes(london_faces[8].read_bytes()); (fk/'half'/'bad.png').write_bytes(b'')
    res, sc = evaluate_detector(tiny_detector, london_faces[:5], fk, progress=False)
    assert list(res.index) == ['broken', 'good', 'half', 'mean']
    assert res.n_failed.tolist() == [3, 0, 1, 4] and res.loc['broken', 'n_fake'] == 0 and np.isnan(res.loc['broken', 'auc'])
    (tmp_path/'real').mkdir()
    for f in london_faces[:5]: (tmp_path/'real'/f.name).write_bytes(f.read_bytes())
    rc, out, _ = run_cli('evaluate', det_file, tmp_path/'real', fk)
    assert rc == 0 and '| broken |' in out and 'n_failed' in out
