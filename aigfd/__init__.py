__version__ = "0.1.0"

import warnings as _w
# fastai (imported by aigfd.data, .train, .study and the notebooks) calls `torch.jit.script` at import, which torch deprecates with
# a FutureWarning a student reads as an error; it is fastai's to fix, not the user's: hide that one message, from any importer.
_w.filterwarnings('ignore', r'`torch\.jit\.script` is deprecated', FutureWarning)
# fastai.tabular sets a pandas option that pandas 3 deprecates (Pandas4Warning, when `fastai.vision.all` is imported)
_w.filterwarnings('ignore', r"The 'mode\.chained_assignment' option is deprecated")
del _w
