"""The docs pages as a reader sees them: `.ci/render_pages.py` (pandoc, the way Quarto renders) and the rendered site in Chromium.

`test_render_check_*` build tiny processed notebooks and need only pandoc (`apt-get install pandoc`). `test_docs_in_browser`
opens the pages `.ci/docs` rendered (`$AIGFD_DOCS_HTML`, default `_docs_html/`) in Chromium with Playwright: the index, a
teaching page (its widgets' still images) and an evaluation page (09b_repro: intervals, comparisons) each show a title and
figures, the index and the evaluation page a results table, with no raw markup; screenshots go to
`$AIGFD_ARTIFACTS/docs` (default `ci-artifacts/docs`). Outside CI (`$CI` unset) a missing tool or page folder skips; in CI it fails."""
import functools, http.server, importlib.util, json, os, shutil, threading
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get('AIGFD_CHROMIUM', '/usr/bin/chromium')
PAGES = {'index': ('aigfd', True), '11_teach': ('Teaching views', False), '09b_repro': (None, True)}  # page -> (title (None: any), has a results table)

def _missing(what):
    if os.environ.get('CI'): pytest.fail(f"docs check: {what} (CI must install it: see .ci/run)")
    pytest.skip(f"docs check skipped: {what}")

@pytest.fixture(scope='module')
def rp():
    if not shutil.which('pandoc'): _missing("no pandoc (apt-get install pandoc)")
    spec = importlib.util.spec_from_file_location('render_pages', ROOT/'.ci'/'render_pages.py')
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m

PNG = ('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==')
FRONT = "---\ndescription: A tiny page\noutput-file: tiny.html\ntitle: Tiny page\n\n---\n\n"
SHOW_DOC = ("---\n\n[source](https://example.org/x.py#L1){target=\"_blank\" style=\"float:right; font-size:smaller\"}\n\n"
            "### f\n\n```python\ndef f(x): ...\n```\n\n*Does f.*")

def _nb(cells): return dict(nbformat=4, nbformat_minor=5, metadata={}, cells=cells)
def _code(cid, src, outputs=()): return dict(cell_type='code', id=cid, source=src, metadata={}, execution_count=1, outputs=list(outputs))
def _md(cid, src): return dict(cell_type='markdown', id=cid, source=src, metadata={})

def _render(rp, tmp_path, cells, stem='99_tiny'):
    p = tmp_path/'_proc'/f'{stem}.ipynb'; p.parent.mkdir(exist_ok=True)
    p.write_text(json.dumps(_nb([dict(cell_type='raw', id='fm', source=FRONT, metadata={})] + cells)))
    page = rp.Page(p, tmp_path/'html')
    (tmp_path/'html').mkdir(exist_ok=True)
    f = page.render()
    return page, f, rp.check(page, f, {})

GOOD = [_md('m1', '# Tiny page\n\nSome prose with `#| slow` in inline code.'),
        _code('c1', '#| echo: false\n#| output: asis\nshow_doc(f)', [dict(output_type='execute_result', execution_count=1, metadata={},
              data={'text/markdown': SHOW_DOC, 'text/plain': 'def f(x)'})]),
        _code('c2', '#| slow\nplot()', [dict(output_type='display_data', metadata={}, data={'image/png': PNG, 'text/plain': '<Figure>'})]),
        _code('c3', 'df', [dict(output_type='execute_result', execution_count=2, metadata={},
              data={'text/html': '<table><tr><th>a</th></tr><tr><td>1</td></tr></table>', 'text/plain': 'a\n1'})])]

def test_render_check_passes_a_clean_page(rp, tmp_path):
    page, f, probs = _render(rp, tmp_path, GOOD)
    assert probs == [], probs
    html = f.read_text()
    assert '<h1 class="title">Tiny page</h1>' in html                       # the front matter became the title
    assert 'target="_blank"' in html and '{target=' not in html             # the attribute applied to the link, not shown
    assert '#| ' not in html.replace('<code>#| slow</code>', '')           # directives stripped from the rendered code
    assert 'show_doc(f)' not in html and 'plot()' in html                   # echo: false hides the code, other code shows
    assert page.n_images == 1 and (f.parent/'99_tiny_files'/'c2-0.png').exists() and '<table>' in html

@pytest.mark.parametrize('bad, words', [
    (_md('bad', 'A link [here](https://example.org) {target="_blank"} written with a space.'), 'Quarto attribute string'),
    (_code('bad', '# set up\n#| echo: false\nx = 1'), 'cell directive'),
    (_md('bad', 'output-file: x.html\ntitle: X'), 'front matter'),
    (_code('bad', 'w', [dict(output_type='display_data', metadata={}, data={
        'application/vnd.jupyter.widget-view+json': {'model_id': 'x'}, 'text/plain': 'VBox(children=...)'})]), 'widget'),
])
def test_render_check_names_notebook_and_cell(rp, tmp_path, bad, words):
    _, _, probs = _render(rp, tmp_path, GOOD + [bad])
    assert [c for c, _ in probs] == ['bad'] and words in probs[0][1], probs
    src, ids = rp.source_cells('00_core')                                   # a real notebook maps cell ids to their index
    assert src.name == '00_core.ipynb' and ids and all(isinstance(i, int) for i in ids.values())

def test_render_check_fails_without_quarto_emulation(rp, tmp_path):
    "Pandoc's own ipynb reader (what a naive render does) shows the directives: the check must catch it."
    import subprocess
    page, f, _ = _render(rp, tmp_path, GOOD)
    raw = tmp_path/'html'/'naive.html'
    subprocess.run(['pandoc', '-f', 'ipynb', '-t', 'html5', '-s', '--metadata', 'pagetitle=x', str(page.path), '-o', str(raw)], check=True)
    probs = rp.check(rp.Page(page.path, tmp_path/'html'), raw, {})
    assert any('cell directive' in w for _, w in probs), probs

@pytest.fixture(scope='module')
def site():
    d = Path(os.environ.get('AIGFD_DOCS_HTML', ROOT/'_docs_html'))
    if not all((d/f'{p}.html').exists() for p in PAGES): _missing(f"no rendered pages in {d} (bash .ci/docs renders them)")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(d)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{srv.server_address[1]}'
    srv.shutdown(); srv.server_close()

@pytest.mark.browser
def test_docs_in_browser(site):
    if not Path(CHROMIUM).exists(): _missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try: from playwright.sync_api import sync_playwright
    except ImportError: _missing("playwright is not installed (pip install playwright)")
    shots = Path(os.environ.get('AIGFD_ARTIFACTS', ROOT/'ci-artifacts'))/'docs'
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        br = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=['--no-sandbox', '--disable-gpu'])
        try:
            page = br.new_page(viewport=dict(width=1280, height=900))
            for stem, (title, has_table) in PAGES.items():
                page.goto(f'{site}/{stem}.html'); page.wait_for_load_state('load')
                page.screenshot(path=str(shots/f'{stem}.png'), full_page=True)
                h1 = page.locator('h1.title').inner_text().strip()
                assert h1 and (title is None or h1 == title), (stem, h1)
                tables = page.locator('table')
                if has_table:
                    assert tables.count() >= 1 and tables.first.is_visible(), f"{stem}: no results table"
                    assert tables.first.locator('td').count() >= 2, f"{stem}: an empty table"
                widths = page.locator('img').evaluate_all('xs => xs.map(i => i.complete ? i.naturalWidth : 0)')
                assert widths and all(w > 0 for w in widths), f"{stem}: figures {widths} (0: did not load)"
                text = page.locator('body').inner_text()
                for raw in ('output-file:', '{target=', '#| echo', '#| output'):
                    assert raw not in text, f"{stem}: raw markup {raw!r} shown"
        finally: br.close()

def test_processing_error_names_notebook_and_cell(rp, tmp_path, capsys):
    "nbdev-proc-nbs names a failing notebook by its title only: the check names its file and the cell."
    log = tmp_path/'proc.log'
    log.write_text("Exception: Error in notebook: Teaching views in cell 21 :\nimport x\nNameError: name 'man' is not defined\n")
    assert rp.proc_errors(log) == 1
    assert 'FAIL: docs processing of nbs/11_teach.ipynb: cell 21 raised' in capsys.readouterr().out
