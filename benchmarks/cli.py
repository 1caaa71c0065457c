"""Benchmark of the `aigfd` command: start-up (`aigfd --help`, a usage error), scoring one image with a ResNet-18
detector, and peak memory when scoring folders of growing size.

Run: `python benchmarks/cli.py [--reps 5] [--sizes 2000,5000,10000] [--threads 1] [--img-size 224] [--keep DIR]`
Every figure is a fresh `python -c "from aigfd.cli import main; ..."` process, which is what the `aigfd` console
script runs, timed by wall clock and by its CPU time (user + system: close to the wall time of an idle machine,
and much less disturbed by other work on a shared one); peak memory is the maximum resident set size of that process (`ru_maxrss` of the
child). The detector is a ResNet-18 `AIGFDNet` (random weights: speed and memory do not depend on their values) with an
8-component GMM fitted on 64 London faces, `crop='face'`, JPEG re-encoding at 90, as `aigfd fit` writes it.
One-image scoring is timed with an empty landmark cache (face detection included) and with a warm one, with the
default engine (ONNX Runtime, the detector's network exported once beforehand, as `aigfd fit` does; torch is not imported)
and with `--engine torch` (what `aigfd score` ran before). The folders
of 2k/5k/10k images are symbolic links to the minibench's 2,854 face files, repeated; the landmark cache is warmed
once on the unique faces first (the usual cache, `$AIGFD_CACHE` or ~/.cache/aigfd), so the folder figures measure scoring (and its memory), not face detection.
Memory must stay flat as the folder grows: features are kept (N x emb_dim float32, 3 MB per 1,000 faces at 768),
images are not."""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

RUN = 'import sys; from aigfd.cli import main; sys.exit(main())'

def run(args, env):
    "Wall time (s), exit status, stderr, CPU time (user+system, s) and peak RSS (MB) of one `aigfd ARGS` process."
    t = time.perf_counter()
    p = subprocess.Popen([sys.executable, '-c', RUN, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - t, p.returncode, err, ru.ru_utime + ru.ru_stime, ru.ru_maxrss/1024  # KiB on Linux -> MB: this child's own peak

def run_rss(args, env):
    "Wall time (s), peak RSS (MB) and CPU time (s) of one `aigfd ARGS` process, which must succeed."
    dt, rc, err, cpu, rss = run(args, env)
    if rc != 0: sys.exit(f"aigfd {' '.join(args[:2])} ... failed ({rc}):\n{err[-2000:]}")
    return dt, rss, cpu

def timed(args, env, reps, want):
    "Wall and CPU times of `reps` runs; the CPU time is what an idle machine's wall time comes close to."
    ts, cs = [], []
    for _ in range(reps):
        dt, rc, err, cpu, _ = run(args, env)
        if rc != want: sys.exit(f"aigfd {' '.join(args)}: exit status {rc}, expected {want}:\n{err[-2000:]}")
        ts.append(dt); cs.append(cpu)
    return ts, cs

def fmt(ts, cs=None):
    cpu = f"; CPU time median {statistics.median(cs):.3f} s" if cs else ''
    return f"wall median {statistics.median(ts):.3f} s, min {min(ts):.3f} s, max {max(ts):.3f} s ({len(ts)} runs){cpu}"

def make_detector(d, img_size):
    "A ResNet-18 detector fitted on 64 London faces (random weights), as `aigfd fit` would write it."
    from aigfd.images import image_files
    from aigfd.minibench import minibench_path
    from aigfd.model import AIGFDNet, save_model
    from aigfd.detector import fit_detector
    save_model(AIGFDNet('resnet18', img_size=img_size), d/'resnet18', img_size=img_size)
    real = image_files(minibench_path()/'faces_real'/'london')[:64]
    fit_detector(real, d/'resnet18.safetensors', out=d/'detector.safetensors', n_components=8, crop='face', jpeg_quality=90)
    from aigfd.runtime import export_onnx
    export_onnx(d/'detector.safetensors')  # into the usual cache, as `aigfd fit` does
    return d/'detector.safetensors'

def faces():
    from aigfd.images import image_files
    from aigfd.minibench import minibench_path
    mb = minibench_path()
    return image_files(mb/'faces_real', mb/'faces_fake')

def in_child(expr, threads):
    """The value of a Python expression evaluated in a fresh process (this process stays small: a child's peak RSS
    (`ru_maxrss`) starts at its parent's resident size at the fork, so a parent holding torch would inflate every figure)."""
    code = f"import json, torch; torch.set_num_threads({threads}); import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import cli; print(json.dumps({expr}))"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    if r.returncode: sys.exit(f"benchmark setup failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])

def link_folder(d, files, n):
    d.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        f = files[k % len(files)]
        (d/f'{k:05d}{f.suffix.lower()}').symlink_to(f.resolve())
    return d

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--reps', type=int, default=5, help='runs of each start-up and one-image figure (0: folders only)')
    ap.add_argument('--sizes', default='2000,5000,10000', help='folder sizes for the memory figure ("" to skip)')
    ap.add_argument('--threads', type=int, default=1, help='torch/OpenMP threads of the scoring processes')
    ap.add_argument('--img-size', type=int, default=224)
    ap.add_argument('--no-warm', action='store_true', help='skip warming the landmark cache on the unique faces first (the first folder then includes face detection)')
    ap.add_argument('--keep', default=None, help='work folder to keep (default: a temporary one, deleted)')
    a = ap.parse_args()
    work = Path(a.keep or tempfile.mkdtemp(prefix='aigfd-bench-cli-')); work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), MKL_NUM_THREADS=str(a.threads))  # the usual landmark cache
    print(f"python {sys.version.split()[0]}, torch {in_child('torch.__version__', a.threads)}, {a.threads} thread(s), {os.cpu_count()} CPUs visible, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    try:
        if a.reps: print(f"aigfd --help:            {fmt(*timed(['--help'], env, a.reps, 0))}")
        if a.reps: print(f"aigfd score (no paths):  {fmt(*timed(['score'], env, a.reps, 2))}  [usage error]")
        if a.reps: print(f"aigfd nonsense:          {fmt(*timed(['nonsense'], env, a.reps, 2))}  [usage error]")
        det, onnx = (Path(p) for p in in_child(f"[str(p) for p in (lambda d: (d, __import__('aigfd.runtime').runtime.onnx_path(d)))(cli.make_detector(__import__('pathlib').Path({str(work)!r}), {a.img_size}))]", a.threads))
        fs = [Path(f) for f in in_child("[str(f) for f in cli.faces()]", a.threads)]
        one = [str(f) for f in fs[-a.reps-1:]]  # images not in the fitting set
        for engine in ('auto', 'torch') if a.reps else ():
            cold, warm = [], []
            for k in range(a.reps):
                c = work/f'cold-{engine}{k}'; (c/'onnx').mkdir(parents=True); shutil.copy(onnx, c/'onnx'/onnx.name)  # the exported network, no landmarks
                e = dict(env, AIGFD_CACHE=str(c))
                cold.append(run_rss(['score', one[k], '--detector', str(det), '--quiet', '--engine', engine], e))
                warm.append(run_rss(['score', one[k], '--detector', str(det), '--quiet', '--engine', engine], e))
            name = 'ONNX Runtime' if engine == 'auto' else 'torch'
            print(f"aigfd score 1 image, ResNet-18, {a.img_size} px, {name}, empty landmark cache: {fmt([r[0] for r in cold], [r[2] for r in cold])}; "
                  f"peak RSS {max(r[1] for r in cold):.0f} MB")
            print(f"aigfd score 1 image, ResNet-18, {a.img_size} px, {name}, warm landmark cache:  {fmt([r[0] for r in warm], [r[2] for r in warm])}")
        sizes = [int(s) for s in a.sizes.split(',') if s.strip()]
        if sizes and not a.no_warm:
            uniq = link_folder(work/'unique', fs, len(fs))
            t, m, _ = run_rss(['score', str(uniq), '--detector', str(det), '--quiet'], env)
            print(f"aigfd score folder of {len(fs):>6,} unique faces (fills the landmark cache): {t:7.1f} s, peak RSS {m:6.0f} MB")
        if sizes:
            for n in sizes:
                d = link_folder(work/f'n{n}', fs, n)
                t, m, _ = run_rss(['score', str(d), '--detector', str(det), '--quiet', '--csv', str(work/f'n{n}.csv')], env)
                print(f"aigfd score folder of {n:>6,} images: {t:7.1f} s ({n/t:5.1f} images/s), peak RSS {m:6.0f} MB")
                shutil.rmtree(d)
    finally:
        if not a.keep: shutil.rmtree(work, ignore_errors=True)

if __name__ == '__main__': main()
