"""`aigfd data pretext` without a network: the 8 real source fixtures of the pretext corpus served from 127.0.0.1.

The fixtures are found like the corpus: `$AIGFD_PRETEXT_SOURCES`, else `shared/data/pretext_sources/fixtures` beside the
checkout (`../shared/...` in CI). The mirror and `run_cli` are the minibench tests' (conftest.py)."""
import json, os, subprocess, sys, time, tomllib
from pathlib import Path
import pytest
from PIL import Image

import aigfd.core as core
import aigfd.pretext as ptm
import aigfd.minibench as mbm
from conftest import Mirror, run_cli
from aigfd.core import file_sha256, AigfdError, DataNotFoundError
from aigfd.pretext import pretext_path, read_pretext_manifest, check_pretext, require_pretext
from aigfd.minibench import minibench_path
from aigfd.minibench import package_data, sources_fixtures_path, rebuild_note
from aigfd.pretext import pretext_manifest, pretext_sources, build_pretext, PRETEXT_DATA

ROOT = Path(__file__).resolve().parent.parent
KEYS = (ROOT/'tests'/'pretext_fixtures.txt').read_text().splitlines()  # the 8 fixture sources (repo/commit/path)
FIX = sources_fixtures_path('pretext', must_exist=False)
pytestmark = pytest.mark.skipif(FIX is None or not all((FIX/k).is_file() for k in KEYS),
                                reason="pretext source fixtures not found (shared/data/pretext_sources/fixtures)")
EXIF = dict(fnumber=0x829D, exposure_time_s=0x829A, focal_length_mm=0x920A, iso=0x8827)  # the manifest's tags, EXIF sub-IFD


def fixture_sources():
    s = pretext_sources()
    return s[s.key.isin(KEYS)]


def _only_fixtures(monkeypatch):
    "Make the registry the 8 fixture sources and the 8 files they make (for the tests that need a complete rebuild)."
    s, m, reg = fixture_sources(), pretext_manifest(), ptm.pretext_registry()
    m = m[m.src.isin(set(s.key))]
    monkeypatch.setattr(ptm, 'pretext_sources', lambda: s)
    monkeypatch.setattr(ptm, 'pretext_manifest', lambda: m.copy())
    monkeypatch.setattr(ptm, 'pretext_registry', lambda: reg[reg.path.isin(set(m.path))].reset_index(drop=True))
    return m


def _cli(dest, mirror, cache, *more):
    return run_cli('data', 'pretext', '--dest', dest, '--base-url', mirror.url, '--cache', cache, '--quiet', *more)


def test_registry_ships_in_package():
    "README.md, LICENSES.md, manifest.csv, sources.csv and pixels.csv are package data, equal to the shared copies."
    names = ['README.md', 'LICENSES.md', 'manifest.csv', 'sources.csv', 'pixels.csv']
    assert sorted(p.name for p in package_data(folder=PRETEXT_DATA).iterdir()) == sorted(names)
    cfg = tomllib.loads((ROOT/'pyproject.toml').read_text())
    assert cfg['tool']['setuptools']['package-data']['aigfd.pretext_data'] == ['*'] and 'aigfd.pretext_data' in cfg['tool']['setuptools']['packages']
    assert file_sha256(package_data('sources.csv', PRETEXT_DATA)) == file_sha256(FIX.parent/'sources.csv')
    pt = pretext_path(must_exist=False)
    if pt is not None and pt.name == 'pretext' and (pt/'README.md').exists():
        for n in ['README.md', 'LICENSES.md', 'manifest.csv']: assert file_sha256(package_data(n, PRETEXT_DATA)) == file_sha256(pt/n), n
    s, m = pretext_sources(), pretext_manifest()
    assert (len(s), len(m), s.bytes.sum()) == (560, 560, 270_556_934)
    assert sorted(m.src) == sorted(s.key) and set(m.role) == {'real_face', 'exif_photo'} and set(m.generator) == {''}
    assert ptm.pretext_registry().path.tolist() == m.path.tolist()  # what the check reads is the same registry


def test_rebuild_from_fixtures_matches_manifest(tmp_path):
    "`aigfd data pretext` on a mirror holding only the 8 fixtures: those 8 files byte-identical, the other 552 reported."
    with Mirror(FIX, KEYS) as mirror:
        rc, out, err = _cli(tmp_path/'pt', mirror, tmp_path/'cache')
        asked = {k for k, _ in mirror.requests}
    assert asked == set(pretext_sources().key)  # every source asked for, URL-encoded paths decoded to the registry's
    assert rc == 2 and 'Traceback' not in err
    errs = [l for l in err.splitlines() if l.startswith('aigfd data: error')]
    assert len(errs) == 1 and '552 of 560 files could not be rebuilt' in errs[0] and '552 sources failed' in errs[0] and 'HTTP 404' in errs[0], err
    assert '270.6 MB' in out and 'licence unverified' in out and 'CC0-1.0' in out
    assert out.index('licences') < out.index('rebuilt 8 of 560 files')  # licences before the download
    assert 'source not fetched:' in out and '547 more sources not fetched' in out  # failures named, the rest counted
    dest = tmp_path/'pt'
    got = read_pretext_manifest(dest)  # the written manifest lists exactly the files that are there
    assert sorted(got.path) == sorted(pretext_manifest().query('src in @KEYS').path)
    for r in got.itertuples(): assert file_sha256(r.file) == r.sha256, r.path
    for r in got[got.role == 'exif_photo'].itertuples():  # the photos keep the four EXIF tags of the manifest
        sub = Image.open(r.file).getexif().get_ifd(0x8769)
        assert {k: format(float(sub[t]), 'g') for k, t in EXIF.items()} == {k: format(float(getattr(r, k)), 'g') for k in EXIF}, r.path
    assert max(Image.open(f).size[0] for f in got.file) == 1024  # photos shrunk to a long side of 1024 px
    st = json.loads((dest/'REBUILD.json').read_text())
    assert st['files'] == 8 and st['differ'] == [] and not st['complete'] and st['made_by'] == 'aigfd data pretext'
    assert rebuild_note(dest).startswith(f'pretext corpus at {dest}:') and 'every file byte-identical' in rebuild_note(dest)
    # the incomplete corpus is found (it has a manifest) but refused before training, file by file
    c = check_pretext(dest)
    assert c.status.value_counts().to_dict() == {'missing': 552, 'ok': 8}
    assert set(c[c.status == 'ok'].path) == set(got.path)
    with pytest.raises(AigfdError, match=r'552 of 560 files fail their check \(552 missing\): exif_photos/.*\(missing\); .*and 547 more'):
        require_pretext(dest)


def test_complete_rebuild_check_and_repair(tmp_path, monkeypatch):
    "A complete rebuild passes the check; a deleted and an altered file are each named; a re-run repairs both from the cache."
    m = _only_fixtures(monkeypatch)
    with Mirror(FIX, KEYS) as mirror:
        rc, out, err = _cli(tmp_path/'pt', mirror, tmp_path/'cache', '--exclude-noncommercial')
        assert rc == 0, err
        assert 'nothing to exclude' in out
        dest = tmp_path/'pt'
        assert json.loads((dest/'REBUILD.json').read_text())['complete']
        ok = require_pretext(dest)
        assert sorted(ok.path) == sorted(m.path) and all(Path(f).is_file() for f in ok.file)
        face, photo = m[m.role == 'real_face'].path.iloc[0], m[m.role == 'exif_photo'].path.iloc[0]
        (dest/photo).unlink()
        (dest/face).write_bytes((dest/face).read_bytes() + b'\0')
        c = check_pretext(dest).set_index('path').status
        assert c[photo] == 'missing' and c[face] == 'sha256 differs' and (c.drop([photo, face]) == 'ok').all()
        with pytest.raises(AigfdError) as e: require_pretext(dest)
        assert '2 of 8 files fail their check' in str(e.value) and f'{photo} (missing)' in str(e.value) and f'{face} (sha256 differs)' in str(e.value)
        assert f'aigfd data pretext --dest {dest}' in str(e.value)
        mirror.requests.clear()
        rc, out, err = _cli(dest, mirror, tmp_path/'cache')
        assert rc == 0, err
        assert mirror.requests == []  # all sources came from the cache
    assert (check_pretext(dest).status == 'ok').all()


def test_source_hash_failure_is_reported_per_file(tmp_path, monkeypatch):
    "Sources whose bytes keep failing their sha256 are refused, named one by one, and their files are missing, not half-made."
    m = _only_fixtures(monkeypatch)
    s = fixture_sources()
    bad = [s[s.kinds == 'real_face'].key.iloc[0], s[s.kinds == 'exif_photo'].key.iloc[0]]
    with Mirror(FIX, KEYS) as mirror:
        for k in bad: mirror.corrupt[k] = 99  # every answer has one wrong byte
        rc, out, err = _cli(tmp_path/'pt', mirror, tmp_path/'cache')
        n_asked = {k: [q for q, _ in mirror.requests].count(k) for k in bad}
    assert rc == 2 and 'Traceback' not in err
    assert '2 of 8 files could not be rebuilt: 2 sources failed' in err and 'sha256 differs from the registry' in err
    for k in bad: assert f'source not fetched: {k}: sha256 differs from the registry' in out
    assert n_asked == {k: 3 for k in bad}  # tried again twice, then given up
    st = json.loads((tmp_path/'pt'/'REBUILD.json').read_text())
    assert st['failed_sources'] == {k: 'sha256 differs from the registry' for k in bad}
    lost = sorted(m[m.src.isin(bad)].path)
    assert st['missing'] == lost and not any((tmp_path/'pt'/p).exists() for p in lost)
    assert not any((tmp_path/'cache'/k).exists() for k in bad) and not list((tmp_path/'cache').rglob('*.part'))
    c = check_pretext(tmp_path/'pt').set_index('path').status
    assert sorted(c[c != 'ok'].index) == lost and set(c[lost]) == {'missing'}


KILL_SCRIPT = "import sys; from aigfd.cli import main; sys.exit(main(sys.argv[1:]))"

def test_interrupted_download_resumes(tmp_path, monkeypatch):
    "`aigfd data pretext` killed mid-download; the next run asks only for the rest of the partial file and completes the corpus."
    s = fixture_sources()
    r = s.loc[s.bytes.idxmax()]  # the largest fixture (the iPhone MPO, 1.1 MB)
    part = tmp_path/'cache'/(r.key + '.part')
    with Mirror(FIX, KEYS) as mirror:
        mirror.delay = 0.05  # ~0.3 MB/s: long enough to kill it midway
        p = subprocess.Popen([sys.executable, '-c', KILL_SCRIPT, 'data', 'pretext', '--dest', str(tmp_path/'pt'), '--base-url', mirror.url,
                              '--cache', str(tmp_path/'cache'), '--quiet'], env=dict(os.environ, PYTHONPATH=str(ROOT)),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.time()
        while time.time() - t0 < 120 and (not part.exists() or part.stat().st_size < 100_000): time.sleep(0.05)
        p.kill(); p.wait()
        have = part.stat().st_size
        assert 100_000 <= have < r.bytes
        assert not (tmp_path/'pt'/'manifest.csv').exists()  # an interrupted first rebuild leaves no manifest: never found as a corpus
        mirror.delay, mirror.requests[:] = 0, []
        m = _only_fixtures(monkeypatch)
        st = build_pretext(tmp_path/'pt', mirror.url, tmp_path/'cache', progress=False)
        asked = [(k, rng) for k, rng in mirror.requests if k == r.key]
    assert asked == [(r.key, f'bytes={have}-')]  # only the rest was asked for
    assert st['complete'] and st['differ'] == [] and not part.exists()
    assert len(require_pretext(tmp_path/'pt')) == len(m) == 8


def test_resolver_order_and_default_folder(tmp_path, monkeypatch):
    "argument, then $AIGFD_PRETEXT, then shared/data/pretext beside the checkout, then the user data folder, where the command writes."
    sib = [c for c in core._shared_candidates('pretext')]
    assert ROOT.parent/'shared'/'data'/'pretext' in sib  # beside the checkout: the minibench's rule, with the corpus's name
    assert [c.parent for c in sib] == [c.parent for c in mbm._minibench_candidates()]
    monkeypatch.setenv('XDG_DATA_HOME', str(tmp_path/'xdg'))
    monkeypatch.delenv('AIGFD_PRETEXT', raising=False)
    user = tmp_path/'xdg'/'aigfd'/'pretext'
    assert core.user_data_path('pretext') == user
    arg, env, beside = tmp_path/'arg', tmp_path/'env', tmp_path/'co'/'shared'/'data'/'pretext'
    for d in (arg, env, beside, user): d.mkdir(parents=True); (d/'manifest.csv').write_text('path,sha256\n')
    monkeypatch.setattr(core, '_shared_candidates', lambda name: iter([tmp_path/'co'/'shared'/'data'/name]))
    mb = minibench_path(must_exist=False)
    monkeypatch.setenv('AIGFD_PRETEXT', str(env))
    assert pretext_path(arg) == arg and pretext_path() == env
    monkeypatch.delenv('AIGFD_PRETEXT')
    assert pretext_path() == beside.resolve()
    (beside/'manifest.csv').unlink()
    assert pretext_path() == user.resolve()
    (user/'manifest.csv').unlink()
    assert pretext_path(must_exist=False) is None
    with pytest.raises(DataNotFoundError) as e: pretext_path()
    msg = str(e.value)
    assert msg.startswith('pretext corpus not found: not in $AIGFD_PRETEXT') and str(user) in msg
    assert 'aigfd data pretext' in msg and '270.6 MB' in msg and 'licence unverified' in msg  # how to get it, its size and licences
    monkeypatch.setenv('AIGFD_PRETEXT', str(tmp_path/'nowhere'))  # a variable that points nowhere is an error, not a fall-through
    with pytest.raises(DataNotFoundError, match=r'from \$AIGFD_PRETEXT'): pretext_path()
    monkeypatch.delenv('AIGFD_PRETEXT')
    assert minibench_path(must_exist=False) == mb  # the minibench's resolver does not see the corpus's folders
    # without --dest the command rebuilds in the user data folder, from the mirror in $AIGFD_PRETEXT_MIRROR; then it is found there
    _only_fixtures(monkeypatch)
    with Mirror(FIX, KEYS) as mirror:
        monkeypatch.setenv('AIGFD_PRETEXT_MIRROR', mirror.url)
        monkeypatch.setenv('AIGFD_CACHE', str(tmp_path/'cache'))
        rc, out, err = run_cli('data', 'pretext')
    assert rc == 0, err
    assert 'sources: 8/8 (100 %)' in err and 'rebuild (sources): 8/8 (100 %)' in err  # progress, as plain lines in a log
    assert f'pretext corpus written to {user}' in out and pretext_path() == user.resolve()
    assert len(require_pretext()) == 8 and (tmp_path/'cache'/'pretext_sources'/KEYS[0]).is_file()


def test_check_of_the_real_corpus_hashes_each_file_once(monkeypatch):
    "The corpus beside the checkout passes the check; a second check reads no file again."
    pt = pretext_path(must_exist=False)
    if pt is None or not (pt/'faces_real').is_dir(): pytest.skip('no pretext corpus beside the checkout')
    m = require_pretext(pt)
    assert len(m) == 560 and m.role.value_counts().to_dict() == {'real_face': 351, 'exif_photo': 209}
    calls = []
    monkeypatch.setattr(core, 'file_sha256', lambda f: calls.append(f) or pytest.fail('hashed again'))
    assert (check_pretext(pt).status == 'ok').all() and calls == []
