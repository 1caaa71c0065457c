"""Property-based fuzzing of the EXIF parsers and the ranking labels: no exception besides the documented one, no NaN/inf leaking.

Each hypothesis example draws a small batch of inputs, so a test makes about `$AIGFD_FUZZ_EXAMPLES` parser calls with fewer
hypothesis examples (shrinking still works on the batch). Default: 10,000 calls for `parse_exif_value` and `exif_values`, 2,000 for the slower
ones (to keep the default run short); `AIGFD_FUZZ_EXAMPLES=10000` runs 10,000 everywhere.
Set `AIGFD_FUZZ_REPORT=/path.json` to write the number of calls each test made."""
import io, math, json, os
from pathlib import Path
from decimal import Decimal
from fractions import Fraction
import numpy as np, pytest, torch
from PIL import Image
from PIL.TiffImagePlugin import IFDRational
from hypothesis import given, settings, HealthCheck, strategies as st, assume
from hypothesis.extra import numpy as hnp
from conftest import fuzz_examples
from aigfd.core import EXIF_TAGS
from aigfd.exif import parse_exif_value, exif_values, read_exif, meta_rows, ExifValueError, EXIF_RANGES, EXIF_IFD, _TAG_IDS, _APEX
from aigfd.losses import pair_labels, FiveTaskLoss

CALLS = {}

def fuzz(default:int, # parser calls when `$AIGFD_FUZZ_EXAMPLES` is unset
         bs:int): # inputs per hypothesis example
    "Hypothesis settings giving about `fuzz_examples(default)` calls in batches of `bs`."
    return settings(max_examples=max(fuzz_examples(default)//bs, 10), deadline=None, suppress_health_check=list(HealthCheck),
                    derandomize=True, database=None)

def batch(s, bs): return st.lists(s, min_size=bs, max_size=bs)

def _count(name, k=1): CALLS[name] = CALLS.get(name, 0) + k

@pytest.fixture(scope='module', autouse=True)
def _report_calls():
    yield
    if os.environ.get('AIGFD_FUZZ_REPORT'): Path(os.environ['AIGFD_FUZZ_REPORT']).write_text(json.dumps(CALLS, indent=1))

def _ok_value(x, tag):
    "A parsed value is None or a finite float inside the plausible range of `tag`."
    if x is None: return True
    lo, hi = EXIF_RANGES[tag]
    return isinstance(x, float) and math.isfinite(x) and lo <= x <= hi

# ---- strategies ----
big_ints = st.integers(-2**80, 2**80)
floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0., -0., 1e-320, 5e-324, 1e308, -1e308, 1e-7, 1e7])
num_strings = st.builds(lambda a, sep, b, unit, pre: f'{pre}{a}{sep}{b}{unit}',
                        st.one_of(st.integers(-10**6, 10**9).map(str), floats.map(repr), st.sampled_from(['', '.', '1e999', '-0', 'nan', '٣', '²', '1,000'])),
                        st.sampled_from(['', '/', ' / ', '.', 'e', ',']),
                        st.one_of(st.integers(0, 10**6).map(str), st.sampled_from(['', '0', '0.0', '1e-999', 'inf']), floats.map(repr)),
                        st.sampled_from(['', ' s', ' sec', '"', ' mm', ' ISO', ' (1/250 s)', ' mm (35 mm equivalent: 50 mm)', 's.']),
                        st.sampled_from(['', 'F', 'f/', 'ƒ', 'ISO ', 'ISO speed: ', '(', '[', ' ', '-', '\u2212']))
strings = st.one_of(num_strings, st.text(max_size=40), st.text(min_size=79, max_size=82), st.text(min_size=200, max_size=5000),
                    st.sampled_from(['nan', 'None', 'n/a', 'unknown', '', ' ', '\x00', 'f', '1/0', '0/0', 'inf', '-inf', '1e309']))
rationals = st.one_of(st.builds(IFDRational, big_ints, big_ints), st.builds(Fraction, big_ints, big_ints.filter(bool)),
                      st.builds(IFDRational, floats.filter(math.isfinite)))
scalars = st.one_of(st.none(), st.booleans(), big_ints, floats, rationals, strings, st.binary(max_size=100),
                    st.builds(np.float32, st.floats(width=32)), st.builds(np.int64, st.integers(-2**63, 2**63-1)), st.builds(np.float16, st.floats(width=16)),
                    st.sampled_from([Decimal('NaN'), Decimal('sNaN'), Decimal('-Infinity'), Decimal('1e-400'), Decimal('123.5'), complex(1, 2), 1j]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.lists(inner, max_size=4).map(tuple),
                                                       st.tuples(big_ints, big_ints), hnp.arrays(np.float64, st.integers(1, 4), elements=floats)),
                      max_leaves=6)

# ---- parse_exif_value ----

@fuzz(10_000, 20)
@given(batch(st.tuples(values, st.sampled_from(EXIF_TAGS)), 20))
def test_parse_exif_value_fuzz(cases):
    for v, tag in cases:
        assert _ok_value(parse_exif_value(v, tag), tag)
        try: x = parse_exif_value(v, tag, strict=True)
        except ExifValueError as e: assert tag in str(e)  # the one documented exception
        else: assert x is not None and _ok_value(x, tag)
    _count('parse_exif_value', len(cases))

def test_parse_exif_value_zero_d_array():
    assert parse_exif_value(np.array(5.0), 'iso') == 5.0

# ---- raw EXIF blocks: in memory and through a JPEG file ----

TAG_IDS = list(_TAG_IDS.values()) + [v[0] for v in _APEX.values()]
exif_entry_values = st.one_of(rationals.filter(lambda r: not isinstance(r, Fraction)), st.integers(-2**31, 2**32-1), floats,
                              st.text(max_size=30), st.binary(max_size=30),
                              st.tuples(st.integers(0, 2**32-1), st.integers(0, 2**32-1)), st.lists(st.integers(0, 65535), max_size=3).map(tuple))
blocks = st.tuples(st.dictionaries(st.sampled_from(TAG_IDS), exif_entry_values, max_size=6),   # sub-IFD
                   st.dictionaries(st.sampled_from(TAG_IDS), exif_entry_values, max_size=3))   # IFD0 (wrong place, still read)

def _exif(sub, ifd0):
    ex = Image.Exif()
    for k, v in ifd0.items(): ex[k] = v
    if sub: ex.get_ifd(EXIF_IFD).update(sub)
    return ex

def _check_row(r):
    assert set(r) == {'file', *EXIF_TAGS, 'status', 'fallback'} and isinstance(r['status'], str) and r['status']
    for t in EXIF_TAGS:
        x = r[t]
        assert (isinstance(x, float) and math.isnan(x)) or _ok_value(x, t), (t, x)
        if isinstance(x, float) and math.isnan(x): assert t in r['status'] or r['status'].startswith(('no EXIF', 'unreadable')), r
    if r['status'] == 'ok': assert not any(math.isnan(r[t]) for t in EXIF_TAGS)

@fuzz(10_000, 4)
@given(batch(st.tuples(blocks, st.booleans()), 4))
def test_exif_values_fuzz(cases):
    for block, apex in cases: _check_row(exif_values(_exif(*block), 'x.jpg', apex=apex))
    _count('exif_values', len(cases))

def _jpeg_with(exif_bytes):
    buf = io.BytesIO(); Image.new('RGB', (16, 16), (90, 120, 150)).save(buf, 'JPEG', quality=80, exif=exif_bytes)
    return buf.getvalue()

@fuzz(2_000, 4)
@given(batch(st.tuples(blocks, st.booleans()), 4))
def test_exif_jpeg_roundtrip_fuzz(cases):
    "The same kind of random blocks written into a tiny JPEG by PIL and read back from the bytes."
    for block, apex in cases:
        try: b = _jpeg_with(_exif(*block).tobytes())
        except Exception: _count('jpeg_refused_by_PIL_writer'); continue  # PIL cannot write this value: nothing to parse
        _check_row(exif_values(Image.open(io.BytesIO(b)).getexif(), 'x.jpg', apex=apex))
        _count('exif_values_via_jpeg')

_BASE = _jpeg_with(_exif({0x829A: IFDRational(1, 250), 0x829D: IFDRational(28, 10), 0x8827: 200, 0x920A: IFDRational(50, 1)}, {0x0110: 'cam'}).tobytes())
_APP1 = (_BASE.index(b'Exif\0\0'), _BASE.index(b'Exif\0\0') + 200)

@fuzz(2_000, 10)
@given(batch(st.tuples(st.lists(st.tuples(st.integers(*_APP1), st.integers(0, 255)), min_size=1, max_size=12), st.booleans()), 10))
def test_read_exif_corrupted_block_fuzz(tmp_path_factory, cases):
    "Random byte edits inside the APP1/EXIF block of a valid JPEG: `read_exif` never raises and never leaks bad values."
    p = tmp_path_factory.getbasetemp()/'corrupt_exif.jpg'
    for edits, apex in cases:
        b = bytearray(_BASE)
        for i, v in edits: b[i] = v
        p.write_bytes(bytes(b))
        _check_row(read_exif(p, apex=apex))
    _count('read_exif_corrupted_file', len(cases))

@fuzz(2_000, 5)
@given(st.lists(st.dictionaries(st.sampled_from(['ISO', 'FNumber', 'ExposureTime', 'Focal Length', 'file', 'EXIF']),
                                st.one_of(strings, st.integers(), floats, st.none(), st.dictionaries(st.sampled_from(['ISO', 'FNumber']), strings, max_size=2)),
                                max_size=5), min_size=5, max_size=5), st.sampled_from(['.json', '.jsonl', '.csv']))
def test_meta_rows_fuzz(tmp_path_factory, recs, ext):
    "Metadata files of random records: rows with a status, never an exception, never a bad value."
    p = tmp_path_factory.getbasetemp()/f'meta{ext}'
    if ext == '.json': p.write_text(json.dumps(recs, allow_nan=True))
    elif ext == '.jsonl': p.write_text('\n'.join(json.dumps(r, allow_nan=True) for r in recs))
    else:
        import pandas as pd
        pd.DataFrame([{k: v for k, v in r.items() if not isinstance(v, dict)} for r in recs]).to_csv(p, index=False)
    rows = meta_rows(p)
    _count('meta_rows_records', len(recs))
    for r in rows:
        assert isinstance(r['status'], str)
        for t in EXIF_TAGS: assert (isinstance(r[t], float) and math.isnan(r[t])) or _ok_value(r[t], t), (t, r[t])

# ---- ranking labels and the five-task loss ----

tag_arrays = st.one_of(
    hnp.arrays(st.sampled_from([np.float16, np.float32, np.float64]), st.one_of(hnp.array_shapes(min_dims=1, max_dims=1, min_side=0, max_side=12),
               st.tuples(st.integers(0, 10), st.integers(1, 5))), elements=st.floats(allow_nan=True, allow_infinity=True, width=16)),
    hnp.arrays(np.float64, st.tuples(st.integers(0, 10), st.just(4)), elements=floats),
    hnp.arrays(np.int64, st.integers(0, 10), elements=st.integers(-2**24, 2**24)))  # exact in float32

@fuzz(2_000, 10)
@given(batch(tag_arrays, 10))
def test_pair_labels_fuzz(ys):
    for y in ys: _pair_labels_ok(y)
    _count('pair_labels', len(ys))

def _pair_labels_ok(y):
    g, m = pair_labels(torch.as_tensor(y))
    n = len(y); P = n*(n-1)//2
    assert g.shape[0] == P and m.shape == g.shape and m.dtype == torch.bool
    assert set(g[m].unique().tolist()) <= {0., 0.5, 1.}
    assert bool(g[~m].isnan().all())
    yt = torch.as_tensor(y).double()
    i, j = torch.triu_indices(n, n, 1)
    want = (yt[i] > yt[j]).double() + 0.5*(yt[i] == yt[j]).double()
    assert torch.equal(m, ~(yt[i].isnan() | yt[j].isnan()))
    assert torch.equal(g[m].double(), want[m])

@fuzz(2_000, 10)
@given(batch(st.tuples(hnp.arrays(np.float32, st.tuples(st.integers(1, 9), st.just(5)), elements=st.floats(-3.0000000054977558e+38, 3.0000000054977558e+38, width=32)),
       hnp.arrays(np.float64, st.tuples(st.integers(1, 9), st.just(4)), elements=floats),
       st.lists(st.sampled_from([0., 1., float('nan')]), min_size=9, max_size=9), st.sampled_from(['mean', 'none'])), 10))
def test_five_task_loss_fuzz(cases):
    "Extreme but finite logits, any EXIF (NaN, inf, huge), unknown labels: a finite loss and finite gradients."
    for c in cases: _loss_ok(*c)
    _count('FiveTaskLoss', len(cases))

def _loss_ok(preds, exif, manip, reduction):
    B = min(len(preds), len(exif)); preds, exif = preds[:B], exif[:B]
    p = torch.tensor(preds, requires_grad=True)
    loss = FiveTaskLoss(reduction=reduction)(p, torch.tensor(exif), torch.tensor(manip[:B]))
    assert bool(loss.isfinite().all()) and bool((loss >= -1e-3).all())  # fidelity minimum is -sqrt(eps) per term, not 0
    loss.sum().backward()
    assert bool(p.grad.isfinite().all())
