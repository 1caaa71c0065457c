"""Write README.md from nbs/index.ipynb (what `nbdev-readme` does with Quarto), or with --check fail if it differs."""
import sys
from pathlib import Path
import nbformat

root = Path(__file__).resolve().parent.parent
nb = nbformat.read(root/'nbs'/'index.ipynb', as_version=4)
parts = []
for c in nb.cells:
    src = c.source.strip()
    if not src or src.startswith('#| hide'): continue
    parts.append(src if c.cell_type == 'markdown' else f'```python\n{src}\n```')
text = '<!-- generated from nbs/index.ipynb by .ci/readme.py: edit the notebook, not this file -->\n\n' + '\n\n'.join(parts) + '\n'
readme = root/'README.md'
if '--check' in sys.argv:
    if not readme.exists() or readme.read_text() != text: sys.exit("FAIL: README.md is out of date: run python .ci/readme.py")
    print("README.md in sync with nbs/index.ipynb")
else:
    readme.write_text(text); print(f"wrote {readme}")
