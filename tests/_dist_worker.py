"Worker for test_distributed.py: one process of a 2-process gloo run of `aigfd.train.train` on synthetic data."
import os, sys, torch
if os.environ.get('AIGFD_TEST_NO_DDP'):  # negative control: train each rank on its own, without distrib_ctx
    import fastai.torch_core; fastai.torch_core.num_distrib = lambda: 0
torch.set_num_threads(1)
from fastai.torch_core import set_seed
from aigfd.model import AIGFDNet
from aigfd.train import train, synthetic_dls

out, rank = sys.argv[1], int(os.environ['RANK'])
set_seed(42)
init = AIGFDNet('resnet18', emb_dim=16).state_dict()  # what `train` builds from the same seed
# each rank gets different data: equal weights afterwards then need the gradient averaging to work
learn = train('cpu', dls=synthetic_dls(n=48, size=32, bs=8, seed=rank), arch='resnet18', emb_dim=16, epochs=1, lr=1e-3, out=out)
torch.save({'init': init, 'final': learn.model.state_dict(), 'world': torch.distributed.get_world_size()
            if torch.distributed.is_initialized() else int(os.environ['WORLD_SIZE'])}, f'{out}/rank{rank}.pt')
