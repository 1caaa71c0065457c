"""Render nbdev-processed notebooks (_proc/*.ipynb) to HTML with nbconvert, for a docs check without Quarto.
nbdev's processed notebooks carry bookkeeping keys (e.g. `has_sd`) that nbformat's schema rejects: drop them first."""
import json, sys
from pathlib import Path
import nbformat
from nbconvert import HTMLExporter

STD = {'code': {'cell_type', 'execution_count', 'id', 'metadata', 'outputs', 'source'},
       'markdown': {'cell_type', 'id', 'metadata', 'source', 'attachments'},
       'raw': {'cell_type', 'id', 'metadata', 'source', 'attachments'}}
out = Path(sys.argv[1]); out.mkdir(exist_ok=True)
failed = 0
for p in sys.argv[2:]:
    try:
        d = json.loads(Path(p).read_text())
        d['cells'] = [{k: v for k, v in c.items() if k in STD.get(c['cell_type'], c.keys())} for c in d['cells']]
        for c in d['cells']:
            c.get('metadata', {}).pop('execution', None)
            if isinstance(c.get('source'), list): c['source'] = ''.join(c['source'])
            for o in c.get('outputs', []):
                if isinstance(o.get('text'), list): o['text'] = ''.join(o['text'])
                for k, v in o.get('data', {}).items():
                    if isinstance(v, list) and not k.endswith('json'): o['data'][k] = ''.join(v)
        nb = nbformat.from_dict(d); nbformat.validate(nb)
        html, _ = HTMLExporter().from_notebook_node(nb)
        (out/(Path(p).stem + '.html')).write_text(html)
        print(f"  page {Path(p).stem}.html ok ({len(html)//1024} KiB)")
    except Exception as e:
        failed += 1; print(f"FAIL: rendering {p}: {type(e).__name__}: {e}")
sys.exit(1 if failed else 0)
