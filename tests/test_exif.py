"Library-level tests of `aigfd.exif`: manifest reproduction, string grammar, crafted EXIF, bad files, metadata files, plots."
import json, math
from fractions import Fraction
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image
from PIL.TiffImagePlugin import IFDRational
from aigfd.core import EXIF_TAGS, AigfdError
from aigfd.minibench import read_manifest
from aigfd.exif import (EXIF_IFD, EXIF_RANGES, ExifValueError, parse_exif_value, read_exif, exif_values, meta_rows,
                        exif_table, plot_exif, TABLE_COLS)

MAN_COLS = dict(iso='iso', aperture='fnumber', exposure='exposure_time_s', focal_length='focal_length_mm')
FN, ET, FL, ISO, AV, TV = 0x829D, 0x829A, 0x920A, 0x8827, 0x9202, 0x9201

def jpeg(path, sub=None, ifd0=None):
    "A small JPEG with the given sub-IFD and IFD0 tags."
    ex = Image.Exif()
    for k, v in (ifd0 or {}).items(): ex[k] = v
    if sub:
        d = ex.get_ifd(EXIF_IFD)
        for k, v in sub.items(): d[k] = v
    Image.new('RGB', (24, 24), (10, 200, 30)).save(path, 'JPEG', exif=ex)
    return path

def vals(r): return [r[t] for t in EXIF_TAGS]

# ---------------------------------------------------------------- manifest
@pytest.fixture(scope='module')
def man(): return read_manifest()

def test_manifest_values_reproduced(man):
    "Every EXIF value of the manifest (203 files) comes back from the image files; files without EXIF give NaN + status."
    has = man[man.iso.notna()]
    no = man[man.iso.isna()]
    test_files = list(has.file) + list(no.file[::10])
    tab = exif_table(*test_files, progress=False).set_index('file')
    assert len(has) == 203 and list(tab.index) == test_files
    t = tab.loc[has.file]
    assert (t.status == 'ok').all(), t.status[t.status != 'ok']
    for tag, col in MAN_COLS.items():
        np.testing.assert_allclose(t[tag].to_numpy(), has[col].to_numpy(float), rtol=1e-4, err_msg=tag)
    t = tab.loc[no.file[::10]]
    assert t[list(EXIF_TAGS)].isna().all().all()
    assert (t.status != 'ok').all() and t.status.str.len().gt(0).all()
    assert set(t.status) <= {'no EXIF', 'no EXIF sub-IFD', 'missing iso, aperture, exposure, focal_length'}

def test_manifest_as_metadata_file(man, tmp_path):
    "The manifest's own columns (fnumber, exposure_time_s, ...) are recognised as a metadata file."
    rows = pd.DataFrame(meta_rows(Path(man.file[0]).parents[2]/'manifest.csv'))
    assert len(rows) == len(man)
    ok = rows.status == 'ok'
    assert ok.sum() == 203 and (rows.status[~ok] == 'no EXIF').all()
    np.testing.assert_allclose(rows.exposure[ok], man.exposure_time_s[ok], rtol=1e-12)

# ---------------------------------------------------------------- strings
@pytest.mark.parametrize('tag,s,want', [
    ('exposure', '1/250sec', 0.004), ('exposure', '1/250 sec', 0.004), ('exposure', '0.004 sec (1/250)', 0.004),
    ('exposure', '1/250 s', 0.004), ('exposure', '1/250', 0.004), ('exposure', '2.5', 2.5), ('exposure', '30 sec', 30.),
    ('exposure', '1 / 8000 s', 1/8000), ('exposure', '15"', 15.), ('exposure', 'ISO 200', None),
    ('aperture', 'F2.8', 2.8), ('aperture', 'f/2.8', 2.8), ('aperture', 'F/22', 22.), ('aperture', '2.8', 2.8),
    ('aperture', 'F', None), ('aperture', 'f/0', None), ('aperture', '71/10', 7.1),
    ('focal_length', '50.0 mm', 50.), ('focal_length', '50 mm', 50.), ('focal_length', '4.3 mm (35 mm equivalent: 24.0 mm)', 4.3),
    ('focal_length', '0 mm', None), ('focal_length', '-50 mm', None),
    ('iso', '200', 200.), ('iso', 'ISO 200', 200.), ('iso', 'iso: 3200', 3200.), ('iso', '100 ISO', 100.), ('iso', '0', None),
    ('iso', '', None), ('iso', '   ', None), ('iso', 'NaN', None), ('iso', '1e3', 1000.),
])
def test_strings(tag, s, want):
    got = parse_exif_value(s, tag)
    assert got == pytest.approx(want, rel=1e-12) if want is not None else got is None

@pytest.mark.parametrize('v,why', [('1/0', 'zero denominator'), ('-3', 'negative'), ('☃', 'not a number'),
                                   ('9'*200, 'too long'), ('1e12', 'implausible'), (None, 'missing'), (IFDRational(3, 0), 'zero denominator')])
def test_strict_reasons(v, why):
    with pytest.raises(ExifValueError, match=why) as e: parse_exif_value(v, 'iso', strict=True)
    assert isinstance(e.value, AigfdError)
    assert parse_exif_value(v, 'iso') is None

def test_unknown_tag():
    with pytest.raises(ExifValueError, match='unknown EXIF tag'): parse_exif_value('1', 'shutter')

def test_ties_same_float():
    "All spellings of one setting give the identical float, so the ranking sees a tie."
    assert len({parse_exif_value(v, 'exposure') for v in ['1/250sec', '0.004', '1/250 s', IFDRational(1, 250), (1, 250), Fraction(2, 500)]}) == 1

def test_huge_and_zero_denominators():
    assert parse_exif_value((1, 0), 'aperture') is None
    assert parse_exif_value((0, 0), 'aperture') is None
    assert parse_exif_value((1, 2**64), 'exposure') is None          # 5e-20 s: implausible
    assert parse_exif_value((1, 2**20), 'exposure') == pytest.approx(2**-20)
    assert parse_exif_value((10**500, 10**499), 'aperture') == 10.
    assert parse_exif_value((10**500, 1), 'aperture') is None
    assert parse_exif_value('1/' + '9'*70, 'exposure') is None

# property: the lenient parser never raises, and never returns NaN, inf, <= 0 or an out-of-range value
_num = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(['1e999', '.5', '0', '00', '1e-400', '9'*60]))
_piece = st.one_of(_num.map(str), st.sampled_from(['/', ' / ', 'sec', ' s', 'mm', 'F', 'f/', 'ISO ', '(', ')', '-', ',', '"', '.', ' ', 'e', '½', '١٢', '\x00']),
                   st.text(max_size=4))
_strings = st.lists(_piece, max_size=6).map(''.join)
_values = st.one_of(_strings, st.text(), _num, st.tuples(st.integers(-2**70, 2**70), st.integers(-2**70, 2**70)),
                    st.builds(IFDRational, st.integers(-2**40, 2**40), st.integers(-5, 2**40)), st.binary(max_size=12),
                    st.none(), st.lists(st.integers(0, 70000), max_size=3))

@settings(max_examples=2000, deadline=None)
@given(_values, st.sampled_from(EXIF_TAGS))
def test_parser_never_raises_never_bad(v, tag):
    x = parse_exif_value(v, tag)
    if x is not None:
        assert type(x) is float and math.isfinite(x) and x > 0
        lo, hi = EXIF_RANGES[tag]
        assert lo <= x <= hi

@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**5), st.integers(1, 10**5))
def test_exposure_order_is_seconds(a, b):
    "`1/a sec` vs `1/b sec`: larger denominators are shorter exposures (seconds, not the reference's reciprocal)."
    xa, xb = parse_exif_value(f'1/{a}sec', 'exposure'), parse_exif_value(f'1/{b} s', 'exposure')
    assert (xa > xb) == (a < b) and (xa == xb) == (a == b)

# ---------------------------------------------------------------- crafted files
def test_crafted_rationals(tmp_path):
    r = read_exif(jpeg(tmp_path/'a.jpg', {FN: IFDRational(28, 10), ET: IFDRational(1, 0), FL: (50, 1), ISO: (200, 400)}))
    assert vals(r)[:2] == [200., 2.8] and r['focal_length'] == 50. and np.isnan(r['exposure'])
    assert r['status'] == 'invalid exposure: zero denominator'

def test_crafted_apex(tmp_path):
    f = jpeg(tmp_path/'b.jpg', {AV: IFDRational(6, 1), TV: IFDRational(10, 1), FL: IFDRational(35, 1), ISO: 64})
    r = read_exif(f)
    assert r['status'].startswith('missing aperture, exposure; APEX ApertureValue') and r['fallback'] == '' and np.isnan(r['aperture'])
    r = read_exif(f, apex=True)
    assert r['status'] == 'ok' and r['aperture'] == pytest.approx(8.) and r['exposure'] == pytest.approx(1/1024)
    assert 'ApertureValue (APEX)' in r['fallback'] and 'ShutterSpeedValue (APEX)' in r['fallback']
    r = read_exif(jpeg(tmp_path/'c.jpg', {FN: IFDRational(4, 1), AV: IFDRational(6, 1)}), apex=True)
    assert r['aperture'] == 4. and 'aperture' not in r['fallback']   # primary tag wins

def test_crafted_negative_zero_ifd0(tmp_path):
    r = read_exif(jpeg(tmp_path/'n.jpg', {FN: IFDRational(-2, 1), ET: IFDRational(0, 1), FL: IFDRational(0, 0), ISO: 0}))
    assert all(np.isnan(vals(r)))
    assert r['status'] == 'invalid iso: zero; invalid aperture: negative; invalid exposure: zero; invalid focal_length: zero denominator'
    r = read_exif(jpeg(tmp_path/'i.jpg', ifd0={FN: IFDRational(8, 1), ET: IFDRational(1, 30), FL: IFDRational(70, 1), ISO: 1600}))
    assert vals(r) == [1600., 8., 1/30, 70.] and r['status'] == 'ok'

def test_no_exif(tmp_path):
    Image.new('RGB', (20, 20)).save(tmp_path/'p.jpg')
    Image.new('RGB', (20, 20)).save(tmp_path/'p.png')
    assert read_exif(tmp_path/'p.jpg')['status'] == read_exif(tmp_path/'p.png')['status'] == 'no EXIF'
    assert read_exif(jpeg(tmp_path/'o.jpg', ifd0={0x0112: 3}))['status'] == 'no EXIF sub-IFD'

def test_exif_values_direct():
    ex = Image.Exif(); ex.get_ifd(EXIF_IFD).update({ISO: (100,), FN: IFDRational(56, 10), ET: IFDRational(1, 125), FL: IFDRational(24, 1)})
    r = exif_values(ex, 'x')
    assert vals(r) == [100., 5.6, 0.008, 24.] and r['file'] == 'x'

# ---------------------------------------------------------------- batch robustness
def test_bad_files_do_not_stop_batch(tmp_path, man):
    good = Path(man.query("role=='exif_photo'").file.iloc[3])
    (tmp_path/'empty.jpg').write_bytes(b'')
    (tmp_path/'text.png').write_text('hello')
    (tmp_path/'trunc.jpg').write_bytes(good.read_bytes()[:3000])
    (tmp_path/'z.jpg').write_bytes(good.read_bytes())
    tab = exif_table(tmp_path, tmp_path/'missing.jpg', progress=False)
    assert list(tab.columns) == list(TABLE_COLS) and len(tab) == 5
    st_ = dict(zip(tab.file.map(lambda f: Path(f).name), tab.status))
    assert st_['empty.jpg'] == 'unreadable file: empty file (0 bytes)'
    assert st_['text.png'] == 'unreadable file: not an image'
    assert st_['trunc.jpg'].startswith('unreadable file') and st_['missing.jpg'] == 'unreadable file: not found'
    assert st_['z.jpg'] == 'ok'
    assert tab[list(EXIF_TAGS)].dtypes.eq(float).all()
    assert tab.loc[tab.status != 'ok', list(EXIF_TAGS)].isna().all().all()

# ---------------------------------------------------------------- metadata files
def test_yfcc_csv_and_json(tmp_path):
    pd.DataFrame({'Photo ID': ['1', '2', '3'], 'ISO Speed Ratings': ['200', '', '50'], 'Aperture Value': ['F2.8', 'F', 'f/16'],
                  'Exposure Time': ['1/250sec', '1/60 sec', '0.004 sec (1/250)'], 'Focal Length': ['50.0 mm', '18 mm', '200 mm']
                  }).to_csv(tmp_path/'y.csv', index=False)
    (tmp_path/'9.json').write_text(json.dumps({'EXIF': {'ISO Speed Ratings': '100', 'Aperture Value': 'F4',
                                                        'Exposure Time': '1/30sec', 'Focal Length': '35 mm'}}))
    tab = exif_table(tmp_path/'y.csv', tmp_path/'9.json')
    assert list(tab.file) == ['1', '2', '3', '9']
    assert list(tab.status) == ['ok', 'missing iso, aperture', 'ok', 'ok']
    np.testing.assert_allclose(tab.iloc[[0, 2, 3]][list(EXIF_TAGS)].to_numpy(),
                               [[200, 2.8, .004, 50], [50, 16, .004, 200], [100, 4, 1/30, 35]])

def test_unreadable_metadata(tmp_path):
    (tmp_path/'b.json').write_text('[{"iso": ')
    (tmp_path/'c.csv').write_text('x,y\n1,2\n')
    tab = exif_table(tmp_path/'b.json', tmp_path/'c.csv')
    assert tab.status[0].startswith('unreadable metadata file') and tab.status[1].startswith('no EXIF columns found')

# ---------------------------------------------------------------- plots
def test_plot(tmp_path):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    df = pd.DataFrame({'iso': [100., 100., np.nan], 'aperture': [2.8, 4., 5.6], 'exposure': [np.nan]*3, 'focal_length': [50., -1., 0.]})
    fig = plot_exif(df)
    assert len(fig.axes) == 4 and 'n=2 of 3' in fig.axes[0].get_title() and 'n=1 of 3' in fig.axes[3].get_title()
    assert all(ax.get_xscale() == 'log' for i, ax in enumerate(fig.axes) if i != 2)
    plt.close(fig)
