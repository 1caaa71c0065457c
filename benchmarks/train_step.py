"""Images/second of one training step: the aigfd fastai `Learner` vs a plain PyTorch loop (the authors' step).

Same model (same initial weights), same synthetic batches, same loss (`FiveTaskLoss`) and optimiser
(Adam, betas (0.9, 0.98), eps 1e-6, L2 weight decay 1e-4). The two variants run interleaved `--reps` times;
each run times `--steps` steps after `--warmup` steps (data loading included in both); medians are reported.

    python benchmarks/train_step.py --threads 2     # resnet18, 128 px, batch 32, CPU
    python benchmarks/train_step.py --arch resnet50 --size 224 --bs 64 --device cuda
"""
import argparse, copy, statistics, tempfile, time
import torch
from fastai.callback.core import Callback, CancelValidException
from fastai.callback.progress import ProgressCallback
from fastcore.basics import noop
from aigfd.losses import FiveTaskLoss
from aigfd.train import aigfd_learner, get_config, synthetic_dls, _TupleDS

class _Timer(Callback):
    "Timestamps of the end of every training batch"
    order = 100
    def before_fit(self): self.t = []
    def after_batch(self):
        if self.training: self.t.append((time.perf_counter(), time.process_time()))
    def before_validate(self): raise CancelValidException  # time training steps only

def _ips(times, warmup, bs):
    "Images per wall-clock second and per CPU second (all threads) over the steps after `warmup`."
    t = times[warmup:]
    n = (len(t) - 1)*bs
    return n/(t[-1][0] - t[0][0]), n/(t[-1][1] - t[0][1])

def run_fastai(learn, args):
    tm = _Timer()
    learn.fit(1, lr=1e-5, cbs=tm)
    return _ips(tm.t, args.warmup, args.bs)

def run_plain(model, ds, args, device):
    "The authors' loop: forward, loss, zero_grad, backward, Adam step."
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-5, betas=(0.9, 0.98), eps=1e-6, weight_decay=1e-4)
    loss_fn = FiveTaskLoss()
    dl = torch.utils.data.DataLoader(ds, batch_size=args.bs, shuffle=True, drop_last=True)
    times = []
    for x, exif, manip in dl:
        x, exif, manip = x.to(device), exif.to(device), manip.to(device)
        loss = loss_fn(model(x), exif, manip)
        opt.zero_grad(); loss.backward(); opt.step()
        if device.type == 'cuda': torch.cuda.synchronize()
        times.append((time.perf_counter(), time.process_time()))
    return _ips(times, args.warmup, args.bs)

def check_same_step(learn, plain_model, ds, args, device):
    "One fastai step and one plain step from the same weights on the same batch must give the same weights."
    from fastai.data.core import DataLoaders
    one = _TupleDS(*(t[:args.bs] for t in ds.ts))
    l2 = aigfd_learner(DataLoaders.from_dsets(one, one, bs=args.bs, shuffle=False, drop_last=False, device=device),
                       learn.cfg, model=copy.deepcopy(plain_model), checkpoints=False)
    l2.remove_cb(ProgressCallback); l2.logger = noop
    l2.fit(1, lr=1e-3, cbs=_Timer())
    m = copy.deepcopy(plain_model).train()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=1e-4)
    x, exif, manip = (t.to(device) for t in one.ts)
    loss = FiveTaskLoss()(m(x), exif, manip); opt.zero_grad(); loss.backward(); opt.step()
    diff = max((a.float() - b.float()).abs().max().item() for a, b in zip(l2.model.state_dict().values(), m.state_dict().values()))
    assert diff < 1e-4, f"fastai and plain steps disagree: max |dw| = {diff}"
    print(f"check: one fastai step == one plain step (max |dw| = {diff:.2e})")

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--arch', default='resnet18'); p.add_argument('--size', type=int, default=128)
    p.add_argument('--bs', type=int, default=32); p.add_argument('--steps', type=int, default=10)
    p.add_argument('--warmup', type=int, default=3); p.add_argument('--reps', type=int, default=5)
    p.add_argument('--threads', type=int, default=1); p.add_argument('--device', default='cpu')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    n = (args.steps + args.warmup)*args.bs
    dls = synthetic_dls(n=n, size=args.size, bs=args.bs, device=device)
    cfg = get_config('cpu', arch=args.arch, img_size=args.size, bs=args.bs, out=(_out := tempfile.TemporaryDirectory()).name, mixed_precision=False)
    learn = aigfd_learner(dls, cfg, checkpoints=False)
    learn.model.to(device)
    learn.remove_cb(ProgressCallback); learn.logger = noop
    plain_model = copy.deepcopy(learn.model)
    ds = _TupleDS(*dls.train.dataset.ts)
    check_same_step(learn, plain_model, ds, args, device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    res = {'fastai': [], 'plain': []}
    for r in range(args.reps):
        res['fastai'].append(run_fastai(learn, args))
        res['plain'].append(run_plain(plain_model, ds, args, device))
        print(f"rep {r}: fastai {res['fastai'][-1][0]:.2f} img/s ({res['fastai'][-1][1]:.2f} img/CPU-s), "
              f"plain {res['plain'][-1][0]:.2f} img/s ({res['plain'][-1][1]:.2f} img/CPU-s)", flush=True)
    print(f"{args.arch} {args.size}px batch {args.bs} on {args.device} ({args.threads} threads), "
          f"{args.steps} timed steps x {args.reps} interleaved reps")
    for i, unit in enumerate(('img/s (wall clock)', 'img/CPU-s (process CPU time, less sensitive to other load)')):
        med = {k: statistics.median(v[i] for v in vs) for k, vs in res.items()}
        over = (med['plain']/med['fastai'] - 1)*100
        print(f"median {unit}: fastai Learner {med['fastai']:.2f}, plain PyTorch loop {med['plain']:.2f}; "
              f"fastai overhead {over:+.1f} % of the time per image (target < 5 %)")

if __name__ == '__main__': main()
