"""Render nbdev-processed notebooks (_proc/*.ipynb) to HTML pages the way Quarto does, without Quarto, and fail on raw markup.

Quarto turns a notebook into Pandoc Markdown (YAML front matter from the raw cell, `#|` cell options applied and removed,
each output as Markdown, raw HTML or an image file), then renders it with pandoc. This script does the same with Debian's
`pandoc` (`apt-get install pandoc`). Pandoc's own ipynb reader is not enough: it drops the front-matter cell, ignores
Quarto's link attributes (`[source](...){target="_blank"}`) and shows `#|` lines and `show_doc`'s plain-text output.

Every page is then checked for what a reader must never see, each failure naming the notebook and the cell:
- YAML front matter shown as text (`output-file: ...`, `title: ...`);
- Quarto attribute strings shown as text (`{target="_blank" style=...}`, `{.class}`);
- cell directives (`#| echo: false`) in the rendered code;
- an image output of the notebook missing from the page, or a widget with no static image beside it (its text repr shown).

    python .ci/render_pages.py OUT_DIR _proc/00_core.ipynb ...   # writes OUT_DIR/00_core.html (+ OUT_DIR/00_core_files/)
    python .ci/render_pages.py --proc-log LOG OUT_DIR ...         # also turns nbdev-proc-nbs errors into notebook + cell"""
import base64, html, json, re, shutil, subprocess, sys
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDGET = 'application/vnd.jupyter.widget-view+json'
ORDER = ['image/png', 'image/jpeg', 'image/svg+xml', 'text/html', 'text/markdown', 'text/latex', 'text/plain']  # Quarto's for HTML, images first
ANSI = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')
CSS = """body{max-width:70em;margin:auto;padding:1em 2em;font-family:system-ui,sans-serif;line-height:1.5}
img{max-width:100%} pre{background:#f6f8fa;padding:.6em;overflow-x:auto} .cell-output pre{background:#fff;border-left:3px solid #ddd}
table{border-collapse:collapse;display:block;overflow-x:auto;max-width:100%} th,td{border:1px solid #ccc;padding:.2em .5em}
.cell-output-stderr pre{background:#fff0f0}"""

def _src(x): return ''.join(x) if isinstance(x, list) else (x or '')

def cell_options(src):
    "Quarto's `#| key: value` lines at the top of a code cell -> (options dict, code without them)."
    lines, opts = src.splitlines(), {}
    i = 0
    while i < len(lines) and lines[i].startswith('#|'):
        k, _, v = lines[i][2:].strip().partition(':')
        opts[k.strip()] = v.strip().lower() if v.strip() else 'true'
        i += 1
    return opts, '\n'.join(lines[i:]).strip('\n')

def fence(text, cls):
    "A fenced block that no backtick run inside `text` can close early."
    n = max([3] + [len(m) + 1 for m in re.findall(r'`{3,}', text)])
    return f"{'`'*n}{cls}\n{text}\n{'`'*n}"

class Page:
    "One processed notebook as Pandoc Markdown, its images written beside the page."
    def __init__(self, nb_path, out):
        self.path, self.out = Path(nb_path), Path(out)
        self.nb = json.loads(self.path.read_text())
        self.media = self.out/f'{self.path.stem}_files'
        self.n_images, self.problems = 0, []  # images the notebook's kept outputs hold; (cell id, message)

    def image(self, mime, data, name):
        ext = {'image/png': 'png', 'image/jpeg': 'jpg', 'image/svg+xml': 'svg'}[mime]
        self.media.mkdir(parents=True, exist_ok=True)
        f = self.media/f'{name}.{ext}'
        if ext == 'svg': f.write_text(_src(data))
        else: f.write_bytes(base64.b64decode(_src(data)))
        self.n_images += 1
        return f'![]({self.media.name}/{f.name}){{.cell-output-display}}'

    def output(self, o, cid, k, opts):
        t = o['output_type']
        if t == 'stream':
            if o.get('name') == 'stderr' and opts.get('warning') == 'false': return ''
            return f"::: {{.cell-output .cell-output-{o.get('name', 'stdout')}}}\n{fence(ANSI.sub('', _src(o.get('text'))).rstrip(), '')}\n:::"
        if t == 'error':
            return f"::: {{.cell-output .cell-output-error}}\n{fence(ANSI.sub('', chr(10).join(o.get('traceback', []))), '')}\n:::"
        data = o.get('data', {})
        if WIDGET in data and not any(m in data for m in ORDER[:3]):
            self.problems.append((cid, 'a widget with no static image beside it (the page shows its text repr; '
                                       'keep an image/png snapshot in the output)'))
        for m in ORDER:
            if m not in data: continue
            if m.startswith('image/'): return self.image(m, data[m], f'{cid}-{k}')
            if m == 'text/html': return fence(_src(data[m]).strip(), '{=html}')
            if m == 'text/markdown': return _src(data[m]).strip()
            if m == 'text/latex': return _src(data[m]).strip()
            return f"::: {{.cell-output .cell-output-display}}\n{fence(_src(data[m]).rstrip(), '')}\n:::"
        return ''

    def markdown(self):
        parts = []
        for i, c in enumerate(self.nb['cells']):
            cid, src = c.get('id') or f'c{i}', _src(c.get('source'))
            if c['cell_type'] == 'raw':
                if i == 0 and src.lstrip().startswith('---'): parts.append(src.strip() + '\n'); continue  # the front matter
                fmt = (c.get('metadata', {}).get('raw_mimetype') or c.get('metadata', {}).get('format') or '').split('/')[-1]
                body = fence(src, f'{{={fmt}}}') if fmt else ''
            elif c['cell_type'] == 'markdown': body = src
            else:
                opts, code = cell_options(src)
                if opts.get('include') == 'false': continue
                shown = [] if opts.get('echo') == 'false' or not code.strip() else [fence(code, '{.python .cell-code}')]
                if opts.get('output') != 'false':
                    shown += [s for k, o in enumerate(c.get('outputs', [])) if (s := self.output(o, cid, k, opts))]
                body = '\n\n'.join(shown)
            if body.strip(): parts.append(f'::: {{#cell-{cid} .cell}}\n{body}\n:::')  # the cell's id survives into the HTML
        return '\n\n'.join(parts) + '\n'

    def render(self):
        md = self.out/f'{self.path.stem}.md'
        md.write_text(self.markdown())
        fm = self.nb['cells'][0] if self.nb['cells'] and self.nb['cells'][0]['cell_type'] == 'raw' else None
        title = [] if fm and re.search(r'^title:', _src(fm['source']), re.M) else ['--metadata', f'pagetitle={self.path.stem}']
        r = subprocess.run(['pandoc', '--from', 'markdown', '--to', 'html5', '--standalone', '--mathjax', '--css', 'style.css',
                            *title, '--output', f'{self.path.stem}.html', md.name], cwd=self.out, capture_output=True, text=True)
        if r.returncode: raise RuntimeError(f"pandoc failed: {r.stderr.strip()[-2000:]}")
        return self.out/f'{self.path.stem}.html'

class Visible(HTMLParser):
    "Text a reader sees in a page, as (cell id, in a <pre> block?, text) runs; images as (cell id, src)."
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.cells, self.runs, self.imgs, self.hidden, self.pre = [], [], [], [], 0, 0
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ('img', 'br', 'hr', 'meta', 'link', 'input'):
            if tag == 'img': self.imgs.append((self.cell(), a.get('src', '')))
            return
        cid = (a.get('id') or '')[5:] if tag == 'div' and (a.get('id') or '').startswith('cell-') else None
        self.stack.append((tag, cid))
        if cid: self.cells.append(cid)
        if tag in ('script', 'style', 'head', 'title'): self.hidden += 1
        if tag == 'pre': self.pre += 1
    def handle_endtag(self, tag):
        while self.stack:
            t, cid = self.stack.pop()
            if cid: self.cells.pop()
            if t in ('script', 'style', 'head', 'title'): self.hidden -= 1
            if t == 'pre': self.pre -= 1
            if t == tag: break
    def cell(self): return self.cells[-1] if self.cells else None
    def handle_data(self, data):
        if not self.hidden: self.runs.append((self.cell(), bool(self.pre), data))

RAW = [(False, re.compile(r'\{\s*(?:target|style|width|height|fig-[\w-]+)\s*=\s*["\'\u201c\u2018][^}]*\}|\{\s*[.#][A-Za-z][\w-]*(?:\s[^}]*)?\}'),
        'a Quarto attribute string shown as text'),
       (False, re.compile(r'(?:^|\n)\s*(?:output-file|title|description|skip_exec|skip_showdoc)\s*:\s*\S'), 'YAML front matter shown as text'),
       (True, re.compile(r'(?:^|\n)\s*#\|\s*[\w-]+'), 'a cell directive (#|) in the rendered code')]

def check(page, html_file, source_ids):
    "Problems of one rendered page: [(cell id, message)]."
    v = Visible(); v.feed(html_file.read_text())
    probs = list(page.problems)
    by_cell = {}
    for cid, pre, text in v.runs: by_cell.setdefault((cid, pre), []).append(text)
    for (cid, pre), texts in by_cell.items():
        text = ''.join(texts)
        for in_pre, rx, what in RAW:
            if in_pre == pre and (m := rx.search(text)): probs.append((cid, f"{what}: {m.group(0).strip()[:80]!r}"))
    text0 = ''.join(t for c, p, t in v.runs if c is None)  # outside every cell: the title block
    if re.search(r'^\s*---', text0) or 'output-file' in text0: probs.append((None, f'front matter shown as text: {text0[:80]!r}'))
    shown = [src for _, src in v.imgs if src and (src.startswith('data:') or (html_file.parent/src).exists())]
    if len(shown) < page.n_images: probs.append((None, f'{page.n_images - len(shown)} of {page.n_images} image outputs missing from the page'))
    return probs

def source_cells(stem):
    "cell id -> index in nbs/STEM.ipynb (what a reader opens to fix it)."
    p = ROOT/'nbs'/f'{stem}.ipynb'
    if not p.exists(): return p, {}
    return p, {c.get('id'): i for i, c in enumerate(json.loads(p.read_text())['cells'])}

def proc_errors(log):
    "nbdev-proc-nbs names a failing notebook by its title: name its file too."
    titles = {}
    for p in sorted((ROOT/'nbs').glob('*.ipynb')):
        for c in json.loads(p.read_text())['cells']:
            if c['cell_type'] == 'markdown' and (m := re.match(r'#\s+(.+)', _src(c['source']).strip())):
                titles[m.group(1).strip()] = p.relative_to(ROOT); break
    found = set(re.findall(r'Error in notebook: (.+?) in cell (\d+)', Path(log).read_text()))
    for title, n in sorted(found):
        print(f"FAIL: docs processing of {titles.get(title, '(notebook titled ' + repr(title) + ')')}: cell {n} raised "
              f"(nbdev-proc-nbs runs import cells and show_doc; keep other code out of import cells)")
    return len(found)

def main(args):
    failed = 0
    if args[0] == '--proc-log': failed += proc_errors(args[1]); args = args[2:]
    if not shutil.which('pandoc'): sys.exit("FAIL: no pandoc (apt-get install pandoc): the docs check renders with it")
    out = Path(args[0]); out.mkdir(exist_ok=True)
    (out/'style.css').write_text(CSS + '\n' + ((ROOT/'nbs'/'styles.css').read_text() if (ROOT/'nbs'/'styles.css').exists() else ''))  # the site's own CSS last
    for p in args[1:]:
        src, ids = source_cells(Path(p).stem)
        where = lambda cid: f"{src.relative_to(ROOT)}" + (f" cell {ids[cid]} (id {cid})" if cid in ids else f" (page-level, cell id {cid})" if cid else '')
        try:
            page = Page(p, out)
            f = page.render()
            probs = check(page, f, ids)
        except Exception as e:
            failed += 1; print(f"FAIL: rendering {src.relative_to(ROOT)}: {type(e).__name__}: {e}"); continue
        for cid, what in probs: print(f"FAIL: {where(cid)}: {what}")
        failed += bool(probs)
        if not probs: print(f"  page {f.name} ok ({f.stat().st_size//1024} KiB, {page.n_images} images)")
    return 1 if failed else 0

if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
