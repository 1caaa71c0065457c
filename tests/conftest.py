"Shared fixtures of the reliability tests: a factory of good and bad image files, real London faces, a tiny detector; a raw-file mirror for the data commands."
import http.server, io, os, struct, threading, time, zlib
from contextlib import redirect_stdout, redirect_stderr
from urllib.parse import unquote, urlparse
from pathlib import Path
import numpy as np
import pytest
from PIL import Image

def fuzz_examples(default:int=10_000) -> int:
    "Parser calls per property-based fuzz test: `$AIGFD_FUZZ_EXAMPLES` or `default`."
    return int(os.environ.get('AIGFD_FUZZ_EXAMPLES') or default)

# ---- file builders ----

def _noise(w, h, seed=0, c=3):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c) if c > 1 else (h, w), dtype=np.uint8)

def _jpeg_bytes(w=64, h=48, seed=0, **kw):
    buf = io.BytesIO(); Image.fromarray(_noise(w, h, seed)).save(buf, 'JPEG', quality=90, **kw); return buf.getvalue()

def _png_bytes(w=64, h=48, seed=0):
    buf = io.BytesIO(); Image.fromarray(_noise(w, h, seed)).save(buf, 'PNG'); return buf.getvalue()

def _chunk(kind:bytes, data:bytes) -> bytes:
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)

def png_bomb(w:int=100_000, h:int=100_000) -> bytes:
    "A valid PNG header declaring `w` x `h` RGB pixels followed by a few bytes of image data (a decompression-bomb header)."
    ihdr = struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(b'\0'*(1 + 3*min(w, 1000)))  # first scanline only
    return b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', ihdr) + _chunk(b'IDAT', idat) + _chunk(b'IEND', b'')

def png_zero_bomb(w:int=9000, h:int=9000) -> bytes:
    "A real decompression bomb: a complete 8-bit grey PNG of `w` x `h` black pixels (81 Mpx by default, about 80 KB on disk)."
    c, row = zlib.compressobj(9), b'\0'*(1 + w)
    data = b''.join([c.compress(row*100) for _ in range(h//100)] + [c.compress(row*(h % 100)), c.flush()])
    ihdr = struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', ihdr) + _chunk(b'IDAT', data) + _chunk(b'IEND', b'')

def _bad_crc_png():
    b = bytearray(_png_bytes(32, 32, 3))
    i = b.index(b'IDAT') + 8; b[i] ^= 0xff  # flip a data byte: CRC no longer matches
    return bytes(b)

# name -> (bytes, words, one of which the refusal reason must contain)
BAD_FILES = {
    'zero.jpg': (b'', ('empty', '0 bytes')),
    'zero.png': (b'', ('empty', '0 bytes')),
    'truncated.jpg': (_jpeg_bytes(400, 300)[:1500], ('truncated', 'corrupt')),
    'truncated.png': (_png_bytes(200, 150)[:700], ('truncated', 'corrupt')),
    'corrupt_crc.png': (_bad_crc_png(), ('corrupt', 'crc', 'broken')),
    'corrupt_header.jpg': (b'\xff\xd8\xff\xe0' + bytes(np.random.default_rng(5).integers(0, 256, 3000, dtype=np.uint8)), ('corrupt', 'not a readable', 'not an image', 'truncated')),
    'text.jpg': (b'this is not an image, just text\n'*20, ('not a readable', 'not an image')),
    'html.png': (b'<!doctype html><html><body>404 not found</body></html>', ('not a readable', 'not an image')),
    'bomb.png': (png_bomb(), ('decompression bomb', 'pixel limit', 'exceeds')),
}
TINY = {'tiny8.png': ('smaller than', 'too small')}  # refused by the minimum size check

def _save(im, p, **kw): im.save(p, **kw); return p

def make_good_files(d:Path) -> dict:
    "Unusual but valid images: name -> path"
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    g16 = (np.linspace(0, 65535, 64*48).reshape(48, 64)).astype(np.uint16)
    out['gray16.png'] = _save(Image.fromarray(g16), d/'gray16.png')
    out['cmyk.jpg'] = _save(Image.fromarray(_noise(64, 48, 1)).convert('CMYK'), d/'cmyk.jpg', quality=90)
    out['palette.png'] = _save(Image.fromarray(_noise(64, 48, 2)).convert('P', palette=Image.ADAPTIVE), d/'palette.png')
    out['rgba.png'] = _save(Image.fromarray(_noise(64, 48, 3, c=4)), d/'rgba.png')
    out['gray.jpg'] = _save(Image.fromarray(_noise(64, 48, 4, c=1)), d/'gray.jpg', quality=90)
    ex = Image.Exif(); ex[0x0112] = 6  # Orientation: rotate 90 CW to display
    out['rotated.jpg'] = _save(Image.fromarray(_noise(80, 40, 5)), d/'rotated.jpg', quality=90, exif=ex.tobytes())
    big = np.broadcast_to(np.linspace(0, 255, 6000, dtype=np.uint8)[None, :, None], (4000, 6000, 3))
    out['huge6000x4000.jpg'] = _save(Image.fromarray(np.ascontiguousarray(big)), d/'huge6000x4000.jpg', quality=70)
    out['noise.png'] = _save(Image.fromarray(_noise(128, 128, 6)), d/'noise.png')
    out['min16.png'] = _save(Image.fromarray(_noise(16, 16, 7)), d/'min16.png')
    return out

def make_bad_files(d:Path) -> dict:
    "Files that must be refused: name -> (path, reason words)"
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for n, (b, why) in BAD_FILES.items(): (d/n).write_bytes(b); out[n] = (d/n, why)
    (d/'bomb81mpx.png').write_bytes(png_zero_bomb()); out['bomb81mpx.png'] = (d/'bomb81mpx.png', BAD_FILES['bomb.png'][1])
    Image.fromarray(_noise(8, 8, 9)).save(d/'tiny8.png'); out['tiny8.png'] = (d/'tiny8.png', TINY['tiny8.png'])
    return out

@pytest.fixture(scope='session')
def image_zoo(tmp_path_factory):
    "A folder `mixed/` of good (`good/`) and bad (`bad/`) files; returns (root, good: name->path, bad: name->(path, words))."
    root = tmp_path_factory.mktemp('zoo')/'mixed'
    return root, make_good_files(root/'good'), make_bad_files(root/'bad')

def reason_ok(text:str, words) -> bool:
    "Does a status text name the file's problem?"
    t = str(text).lower()
    return any(w.lower() in t for w in words)

# ---- real faces and a tiny detector ----

@pytest.fixture(scope='session')
def london_faces():
    "10 neutral London faces of the minibench (skips when the minibench is absent)."
    from aigfd.minibench import minibench_path, read_manifest
    if minibench_path(must_exist=False) is None: pytest.skip('minibench not available')
    m = read_manifest()
    return [Path(f) for f in m[m.path.str.startswith('faces_real/london/neutral_')].file.iloc[:10]]

@pytest.fixture(scope='session')
def tiny_model():
    "A random-init resnet18 AIGFDNet with a 32-d embedding for 64 px inputs."
    import torch
    from aigfd.model import AIGFDNet
    torch.manual_seed(0); torch.set_num_threads(min(2, torch.get_num_threads()))
    return AIGFDNet('resnet18', emb_dim=32, img_size=64).eval()

@pytest.fixture(scope='session')
def tiny_detector(tiny_model, london_faces):
    "A `Detector` fitted on 10 London faces (crop='none', 64 px, 2 components)."
    import warnings
    from aigfd.detector import fit_detector
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return fit_detector(london_faces, tiny_model, n_components=2, crop='none', jpeg_quality=None, size=64)


# ---- the data commands (`aigfd data minibench`, `aigfd data pretext`) without a network ----

class Mirror(http.server.ThreadingHTTPServer):
    "A raw-file mirror on 127.0.0.1 of the source fixtures `keys` (OWNER/NAME/COMMIT/PATH) under `root`; honours Range, can corrupt or slow down chosen files."
    def __init__(self, root, keys):
        super().__init__(('127.0.0.1', 0), _MirrorHandler)
        self.root, self.keys, self.corrupt, self.delay, self.requests = Path(root), set(keys), {}, 0.0, []
        threading.Thread(target=self.serve_forever, daemon=True).start()
    @property
    def url(self): return f'http://127.0.0.1:{self.server_address[1]}'
    def __enter__(self): return self
    def __exit__(self, *a): self.shutdown(); self.server_close()


class _MirrorHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        srv, rel = self.server, unquote(urlparse(self.path).path).lstrip('/')
        srv.requests.append((rel, self.headers.get('Range')))
        f = srv.root/rel
        if rel not in srv.keys or not f.is_file(): self.send_error(404); return
        data = f.read_bytes()
        if srv.corrupt.get(rel, 0):  # serve wrong bytes this many times
            srv.corrupt[rel] -= 1; data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
        start = int(self.headers['Range'].split('=')[1].split('-')[0]) if self.headers.get('Range') else 0
        if start >= len(data) and start: self.send_response(416); self.end_headers(); return
        self.send_response(206 if start else 200)
        if start: self.send_header('Content-Range', f'bytes {start}-{len(data)-1}/{len(data)}')
        self.send_header('Content-Length', str(len(data) - start)); self.end_headers()
        try:
            for i in range(start, len(data), 16384):
                self.wfile.write(data[i:i+16384]); self.wfile.flush()
                if srv.delay: time.sleep(srv.delay)
        except (BrokenPipeError, ConnectionResetError): pass


def run_cli(*args):
    "The real `aigfd` command (its `main`), in this process: (exit status, stdout, stderr)."
    from aigfd.cli import main
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err): rc = main([str(a) for a in args])
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope='module')
def det_file(tiny_detector, tmp_path_factory):
    "`tiny_detector` saved to a detector file."
    p = tmp_path_factory.mktemp('det')/'d.safetensors'; tiny_detector.save(p); return p
