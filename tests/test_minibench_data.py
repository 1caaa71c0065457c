"""`aigfd data minibench` without a network: the 8 real source fixtures served from 127.0.0.1.

The fixtures are found like the minibench: `$AIGFD_MINIBENCH_SOURCES`, else `shared/data/minibench_sources/fixtures`
beside the checkout (`../shared/...` in CI)."""
import json, os, subprocess, sys, time, tomllib
from pathlib import Path
import pytest
from PIL import Image

import aigfd.core as core
from conftest import Mirror, run_cli
import aigfd.minibench as mbm
from aigfd.core import file_sha256, DataNotFoundError
from aigfd.minibench import minibench_path, read_manifest
from aigfd.fetch import fetch_source, RAW_HOST
from aigfd.minibench import read_sources, registry_manifest, package_data, build_minibench, rebuild_note, minibench_sources_path

ROOT = Path(__file__).resolve().parent.parent
KEYS = (ROOT/'tests'/'minibench_fixtures.txt').read_text().splitlines()  # the 8 fixture sources (repo/commit/path)
FIX = minibench_sources_path(must_exist=False)
pytestmark = pytest.mark.skipif(FIX is None or not all((FIX/k).is_file() for k in KEYS),
                                reason="minibench source fixtures not found (shared/data/minibench_sources/fixtures)")


def fixture_sources():
    s = read_sources()
    return s[s.key.isin(KEYS)]


def test_registry_ships_in_package():
    "README.md, LICENSES.md, manifest.csv and the source registry are package data, under 2 MB, equal to the shared copies."
    names = ['README.md', 'LICENSES.md', 'manifest.csv', 'sources.csv', 'SOURCES.md', 'pixels.csv', 'extra.json']
    assert sorted(p.name for p in package_data().iterdir()) == sorted(names)
    assert sum(package_data(n).stat().st_size for n in names) < 2_000_000
    cfg = tomllib.loads((ROOT/'pyproject.toml').read_text())
    assert cfg['tool']['setuptools']['package-data']['aigfd.minibench_data'] == ['*'] and 'aigfd.minibench_data' in cfg['tool']['setuptools']['packages']
    if (FIX.parent/'sources.csv').exists(): assert file_sha256(package_data('sources.csv')) == file_sha256(FIX.parent/'sources.csv')
    mb = minibench_path(must_exist=False)
    if mb is not None and mb.name == 'minibench' and (mb/'README.md').exists():
        for n in ['README.md', 'LICENSES.md', 'manifest.csv']: assert file_sha256(package_data(n)) == file_sha256(mb/n), n
    s, m = read_sources(), registry_manifest()
    assert (len(s), len(m), s.bytes.sum()) == (1244, 2999, 476_217_316)
    assert set(m.src) <= set(s.key)


def test_rebuild_from_fixtures_matches_manifest(tmp_path):
    "The real command against a 127.0.0.1 mirror of the 8 fixtures: every file they produce has the manifest's sha256."
    with Mirror(FIX, KEYS) as mirror:
        rc, out, err = run_cli('data', 'minibench', '--dest', str(tmp_path/'mb'), '--base-url', mirror.url,
                               '--cache', str(tmp_path/'cache'), '--quiet')
    assert len(fixture_sources()) == 8
    # the 1,236 sources this mirror does not have make the command fail with one line, after rebuilding what it can
    assert rc == 2 and 'Traceback' not in err
    errs = [l for l in err.splitlines() if l.startswith('aigfd data: error')]
    assert len(errs) == 1 and '1,236 sources failed' in errs[0] and 'HTTP 404' in errs[0], err
    assert 'NON-COMMERCIAL' in out and 'stylegan2_ffhq' in out and '476.2 MB' in out  # licences and size announced
    assert not [l for l in err.splitlines() if l.startswith(('sources:', 'rebuild'))]  # --quiet: no progress
    dest = tmp_path/'mb'
    got = read_manifest(dest)  # the written manifest lists exactly the files that are there
    assert len(got) == 13
    for r in got.itertuples(): assert file_sha256(r.file) == r.sha256, r.path
    paths = set(got.path)
    assert 'faces_real/congress/K000386.jpg' in paths
    assert 'faces_fake/stylegan2_ffhq/agegan__seed0002.jpg' in paths
    assert sum(p.startswith('faces_fake/sfhq_stylegan2/sfhq__sfhq_sample_1x2') for p in paths) == 2  # tiles of the SFHQ figure
    assert sum('sfhqt2i__flux1_schnell_sdxl_images' in p for p in paths) == 6  # tiles of the SFHQ-T2I figure
    # a camera photo keeps its EXIF
    cam = dest/'exif_photos/metadata-extractor-images/Sony_DigitalMavica.jpg'
    exif = Image.open(cam).getexif().get_ifd(0x8769)
    assert exif.get(0x829D) and exif.get(0x829A)  # FNumber, ExposureTime
    # a London face with its landmark row, equal to the minibench's row
    lm = (dest/'landmarks_london.csv').read_bytes().split(b'\r\n')
    assert lm[0].startswith(b'file,x0,y0,') and lm[1].startswith(b'faces_real/london/neutral_018.jpg,') and lm[2] == b''
    mb = minibench_path(must_exist=False)
    if mb is not None and (mb/'landmarks_london.csv').exists():
        ref = [l for l in (mb/'landmarks_london.csv').read_bytes().split(b'\r\n') if l.startswith(b'faces_real/london/neutral_018.jpg,')]
        assert ref == [lm[1]]
    st = json.loads((dest/'REBUILD.json').read_text())
    assert st['files'] == 13 and st['differ'] == [] and not st['complete']
    assert 'every file byte-identical' in rebuild_note(dest)


def test_corrupt_download_is_refused_and_refetched(tmp_path):
    r = fixture_sources().iloc[0]
    with Mirror(FIX, KEYS) as mirror:
        mirror.corrupt[r.key] = 1  # first answer has one wrong byte
        p = fetch_source(r, tmp_path, mirror.url)
        assert file_sha256(p) == r.sha256
        assert [q for q, _ in mirror.requests].count(r.key) == 2
        mirror.requests.clear(); assert fetch_source(r, tmp_path, mirror.url) == p and mirror.requests == []  # cached: no request
        # a corrupted file in the cache is replaced
        p.write_bytes(b'garbage'); mirror.requests.clear()
        assert file_sha256(fetch_source(r, tmp_path, mirror.url)) == r.sha256 and len(mirror.requests) == 1
        # a mirror that keeps sending wrong bytes: refused, nothing kept
        p.unlink(); mirror.corrupt[r.key] = 99
        with pytest.raises(ValueError, match='(?i)hash'): fetch_source(r, tmp_path, mirror.url, retries=1)
        assert not p.exists() and not list(p.parent.glob('*.part'))


KILL_SCRIPT = """
import sys, pandas as pd
from aigfd.minibench import read_sources
from aigfd.fetch import fetch_source
r = read_sources().set_index('key', drop=False).loc[sys.argv[1]]
fetch_source(r, sys.argv[2], sys.argv[3], retries=0)
"""

def test_killed_download_resumes(tmp_path):
    s = fixture_sources()
    r = s.loc[s.bytes.idxmax()]  # the largest fixture
    with Mirror(FIX, KEYS) as mirror:
        mirror.delay = 0.02  # ~0.8 MB/s: long enough to kill it midway
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        p = subprocess.Popen([sys.executable, '-c', KILL_SCRIPT, r.key, str(tmp_path), mirror.url], env=env)
        part = tmp_path/(r.key + '.part')
        t0 = time.time()
        while time.time() - t0 < 60 and (not part.exists() or part.stat().st_size < 100_000): time.sleep(0.05)
        p.kill(); p.wait()
        have = part.stat().st_size
        assert 100_000 <= have < r.bytes
        mirror.delay, mirror.requests[:] = 0, []
        out = fetch_source(r, tmp_path, mirror.url)
    assert file_sha256(out) == r.sha256 and not part.exists()
    assert mirror.requests == [(r.key, f'bytes={have}-')]  # only the rest was asked for


def test_unreachable_host_is_one_line(tmp_path):
    import socket
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]  # a port nobody listens on
    rc, out, err = run_cli('data', 'minibench', '--dest', str(tmp_path/'mb'), '--base-url', f'http://127.0.0.1:{port}',
                           '--cache', str(tmp_path/'cache'), '--quiet')
    assert rc == 2 and 'Traceback' not in err
    lines = [l for l in err.splitlines() if l.strip()]
    assert lines == [f'aigfd data: error: cannot reach 127.0.0.1:{port} (ConnectionError); check the network, '
                     'or pass --base-url with a reachable mirror'], err
    assert not (tmp_path/'mb'/'manifest.csv').exists()


def _only_fixtures(monkeypatch):
    "Make the registry the 8 fixture sources and the 13 files they produce (for the tests that need a complete rebuild)."
    s, m = fixture_sources(), mbm.registry_manifest()
    m = m[m.src.isin(set(s.key))]
    monkeypatch.setattr(mbm, 'read_sources', lambda: s)
    monkeypatch.setattr(mbm, 'registry_manifest', lambda: m.copy())
    return m


def test_non_identical_rebuild_is_kept_and_reported(tmp_path, monkeypatch):
    m = _only_fixtures(monkeypatch)
    monkeypatch.setattr(mbm, 'SAVE_KW', dict(format='JPEG', quality=95, optimize=True))  # other bytes, same pixels
    ref = minibench_path(must_exist=False)
    with Mirror(FIX, KEYS) as mirror: st = build_minibench(tmp_path/'mb', mirror.url, cache=tmp_path/'cache', progress=False, reference=ref)
    d = {x['path']: x for x in st['differ']}
    assert len(d) == 12 and 'faces_real/congress/K000386.jpg' not in d  # every re-encoded file; the copied one is identical
    assert all(x['pixels_identical'] for x in d.values())
    if ref is not None: assert all(x['max_abs_diff'] == 0 for x in d.values())
    assert all((tmp_path/'mb'/p).exists() for p in d)  # kept
    assert 'NOT byte-identical: 12 files differ' in rebuild_note(tmp_path/'mb')
    monkeypatch.setattr(mbm, 'SAVE_KW', dict(format='JPEG', quality=80))  # other pixels
    with Mirror(FIX, KEYS) as mirror: st = build_minibench(tmp_path/'mb', mirror.url, cache=tmp_path/'cache', progress=False, reference=ref)
    assert len(st['differ']) == 12 and not any(x['pixels_identical'] for x in st['differ'])
    if ref is not None: assert all(x['max_abs_diff'] > 0 for x in st['differ'])


def test_resolver_and_demo_download(tmp_path, monkeypatch):
    "Resolver order ends in the user data folder; missing data gives the command; `aigfd demo --download` gets it, then runs."
    monkeypatch.setenv('XDG_DATA_HOME', str(tmp_path/'xdg'))
    monkeypatch.delenv('AIGFD_MINIBENCH', raising=False)
    monkeypatch.setattr(mbm, '_minibench_candidates', lambda: iter([]))  # as in a clone without ../shared
    user = tmp_path/'xdg'/'aigfd'/'minibench'
    assert mbm.user_minibench_dir() == user
    with pytest.raises(DataNotFoundError) as e: minibench_path()
    msg = str(e.value)
    assert 'aigfd data minibench' in msg and 'aigfd demo --download' in msg and '476.2 MB' in msg and 'non-commercial' in msg
    # --download, against a mirror given by the environment; the demo itself is not what is tested here
    import aigfd.demo
    ran = []
    monkeypatch.setattr(aigfd.demo, 'run_demo', lambda out, quick, root, **kw: ran.append(minibench_path(root)) or Path(out)/'report.md')
    _only_fixtures(monkeypatch)
    with Mirror(FIX, KEYS) as mirror:
        monkeypatch.setenv('AIGFD_MINIBENCH_MIRROR', mirror.url)
        monkeypatch.setenv('AIGFD_CACHE', str(tmp_path/'cache'))
        rc, out, err = run_cli('demo', '--download', '--out', str(tmp_path/'demo'))
    assert rc == 0, err
    assert 'sources: 8/8 (100 %)' in err and 'rebuild (sources): 7/7 (100 %)' in err  # progress, as plain lines in a log
    assert out.index('licences') < out.index('rebuilt 13 of 13 files')  # licences before the download
    assert ran == [user] and minibench_path() == user and len(read_manifest()) == 13
    assert 'rebuilt from its public sources' in out and 'every file byte-identical' in out


def test_demo_report_states_a_rebuild(tmp_path):
    "The demo report's Data section carries the rebuild note of a rebuilt minibench (and nothing for the original)."
    from aigfd.demo import demo_config, VARIANTS
    from aigfd.demo_report import write_report
    mb = tmp_path/'mb'; mb.mkdir()
    st = dict(pillow='9.3.0', files=2968, expected=2968, excluded=['stylegan2_ffhq'], landmarks='identical',
              differ=[dict(path='faces_real/london/neutral_001.jpg', pixels_identical=True)])
    (mb/'REBUILD.json').write_text(json.dumps(st))
    out = tmp_path/'demo'; out.mkdir()
    (out/'split.csv').write_text('generator,split\n,test\nsdxl,test\n')
    for t in ('table_i', 'table_ii_auc'): (out/f'{t}.md').write_text('| x |\n')
    c = demo_config()
    write_report(out, c, mb, list(VARIANTS))
    rep = (out/'report.md').read_text()
    data = rep[rep.index('## Data'):rep.index('## Pretext')]
    assert 'rebuilt from its public sources (Pillow 9.3.0), 2,968 of 2,968 files (stylegan2_ffhq excluded)' in data
    assert 'NOT byte-identical: 1 file differs from the manifest (1 of them with identical pixels)' in data
    (mb/'REBUILD.json').unlink(); write_report(out, c, mb, list(VARIANTS))
    assert 'rebuilt' not in (out/'report.md').read_text()


def test_exclude_noncommercial(tmp_path, monkeypatch):
    "--exclude-noncommercial: stylegan2_ffhq is neither downloaded nor rebuilt nor listed, and the rest is complete."
    m0 = _only_fixtures(monkeypatch)
    with Mirror(FIX, KEYS) as mirror:
        rc, out, err = run_cli('data', 'minibench', '--dest', str(tmp_path/'mb'), '--base-url', mirror.url,
                               '--cache', str(tmp_path/'cache'), '--exclude-noncommercial', '--quiet')
        asked = [k for k, _ in mirror.requests]
    assert rc == 0, err
    assert len(asked) == 7 and not any('AgeGAN' in k for k in asked)
    assert 'NON-COMMERCIAL' not in out and 'excluded: stylegan2_ffhq' in out
    m = read_manifest(tmp_path/'mb')
    assert len(m) == 12 and not (m.generator == 'stylegan2_ffhq').any() and not (tmp_path/'mb'/'faces_fake'/'stylegan2_ffhq').exists()
    assert sorted(m.path) == sorted(m0[m0.generator != 'stylegan2_ffhq'].path)  # the manifest's own rows, those rebuilt
    assert '(stylegan2_ffhq excluded)' in rebuild_note(tmp_path/'mb')
