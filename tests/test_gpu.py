"""Checks that need a CUDA device (skipped without one; CI has none): training with a fastai `Learner` on the GPU with
bf16 mixed precision and channels-last, feature extraction and GMM scoring on the GPU, each against the CPU.
Run on a GPU machine with `pytest -m gpu tests/test_gpu.py`."""
import json
import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

def test_train_on_gpu_mixed_precision(tmp_path):
    "A short run on synthetic batches trains on the GPU under bf16 autocast and channels-last, and its weights load on the CPU."
    from fastai.callback.fp16 import MixedPrecision
    from fastai.callback.channelslast import ChannelsLast
    from aigfd.train import train, synthetic_dls
    from aigfd.model import load_model
    dls = synthetic_dls(n=256, size=64, bs=32, device='cuda')
    learn = train('cpu', dls=dls, arch='resnet18', img_size=64, epochs=4, lr=2e-3, out=str(tmp_path/'run'))
    assert any(isinstance(c, MixedPrecision) for c in learn.cbs) and any(isinstance(c, ChannelsLast) for c in learn.cbs)
    assert next(learn.model.parameters()).device.type == 'cuda'
    rec = learn.recorder.values
    assert np.isfinite(np.array(rec, dtype=float)).all()
    losses = [float(l) for l in learn.recorder.losses]
    assert np.mean(losses[-4:]) < np.mean(losses[:4]), losses  # it learns the synthetic task
    m = load_model(tmp_path/'run'/'final.safetensors').eval()  # CPU
    x = dls.valid.one_batch()[0][:8].float().cpu()
    with torch.inference_mode():
        cpu = m(x)
        gpu = learn.model.float().eval().to(memory_format=torch.contiguous_format)(x.cuda()).cpu()
    assert torch.allclose(cpu, gpu, rtol=5e-2, atol=5e-2), (cpu - gpu).abs().max()
    cfg = json.loads((tmp_path/'run'/'config.json').read_text())
    assert cfg['environment']  # the run records where it ran

def test_features_and_gmm_on_gpu():
    "Feature extraction and GMM scoring on the GPU give the CPU's values (float64 GMM exactly to rounding; the network to TF32 rounding)."
    from PIL import Image
    from aigfd.features import extract_features, make_backbone
    from aigfd.preprocess import Preprocess
    from aigfd.gmm import fit_gmm
    rng = np.random.default_rng(0)
    ims = [Image.fromarray(rng.integers(0, 255, (80, 60, 3), dtype=np.uint8)) for _ in range(6)]
    net = make_backbone('timm', 'resnet18', seed=0).eval()
    Xc, _ = extract_features(ims, net, Preprocess(size=64), progress=False)
    Xg, _ = extract_features(ims, net, Preprocess(size=64), device='cuda', progress=False)
    assert np.abs(Xg - Xc).max() <= 1e-2*np.abs(Xc).max()
    F = np.concatenate([rng.normal(c, 1, (300, 16)) for c in (-2, 0, 2)])
    g = fit_gmm(F, n_components=3)
    np.testing.assert_allclose(g.score(F, device='cuda'), g.score(F), rtol=1e-9, atol=1e-9)
