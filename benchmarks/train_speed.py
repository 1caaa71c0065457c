"""Images/second of a training step on CPU: eager (contiguous), channels-last, `torch.compile`, and both.

The step is the one `aigfd.train` runs (AIGFDNet forward, `FiveTaskLoss`, backward, Adam step) on random batches,
so only the model's execution differs. Each variant runs `--reps` times, interleaved; each run times `--steps` steps
after `--warmup` steps (compilation happens in the warm-up and is reported separately). Medians are printed.

    python benchmarks/train_speed.py                    # resnet18 at 64 and 128 px, resnet10t at 128 px, batch 32, 2 threads
    python benchmarks/train_speed.py --configs resnet18:96 --reps 5
"""
import argparse, statistics, time, platform
import torch
from aigfd.model import AIGFDNet
from aigfd.losses import FiveTaskLoss

def make(arch, size, bs, channels_last, compiled):
    torch.manual_seed(0)
    m = AIGFDNet(arch, emb_dim=768, img_size=size).train()
    x = torch.randn(bs, 3, size, size); exif = torch.rand(bs, 4)*100; manip = (torch.rand(bs) < .5).float()
    if channels_last: m, x = m.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    f = torch.compile(m) if compiled else m
    opt = torch.optim.Adam(m.parameters(), lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=1e-4)
    loss = FiveTaskLoss()
    def step():
        opt.zero_grad(); loss(f(x), exif, manip).backward(); opt.step()
    return step

def run(step, warmup, steps, bs):
    t = time.perf_counter()
    for _ in range(warmup): step()
    t_warm = time.perf_counter() - t; t = time.perf_counter()
    for _ in range(steps): step()
    return steps*bs/(time.perf_counter() - t), t_warm

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--configs', nargs='+', default=['resnet18:64', 'resnet18:128', 'resnet10t:128'], help='arch:size')
    p.add_argument('--bs', type=int, default=32); p.add_argument('--steps', type=int, default=6)
    p.add_argument('--warmup', type=int, default=3); p.add_argument('--reps', type=int, default=3)
    p.add_argument('--threads', type=int, default=2)
    a = p.parse_args(); torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability {torch.backends.cpu.get_cpu_capability()}, {platform.processor() or platform.machine()}")
    variants = {'eager': (False, False), 'channels-last': (True, False), 'compile': (False, True), 'compile + channels-last': (True, True)}
    print(f"| model | input | variant | images/s (median of {a.reps}) | runs | first warm-up s |\n|---|---|---|---|---|---|")
    for c in a.configs:
        arch, size = c.split(':'); size = int(size)
        steps = {v: make(arch, size, a.bs, *f) for v, f in variants.items()}
        res = {v: [] for v in variants}; warm = {}
        for r in range(a.reps):
            for v, s in steps.items():
                ips, tw = run(s, a.warmup if r == 0 else 1, a.steps, a.bs)
                res[v].append(ips); warm.setdefault(v, tw)
        base = statistics.median(res['eager'])
        for v in variants:
            med = statistics.median(res[v])
            print(f"| {arch} | {size} px | {v} | {med:.1f} ({med/base:.2f}x eager) | {', '.join(f'{x:.1f}' for x in res[v])} | {warm[v]:.1f} |", flush=True)

if __name__ == '__main__': main()
