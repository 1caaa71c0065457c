"""Data-parallel training on two CPU processes (gloo): the ranks must end with identical weights.

Each rank trains on different data, so equal weights need working gradient averaging. Negative control:
`AIGFD_TEST_NO_DDP=1 pytest tests/test_distributed.py` trains the ranks independently and must fail."""
import os, socket, subprocess, sys
from pathlib import Path
import torch

def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def test_two_process_gloo_training(tmp_path):
    worker = Path(__file__).with_name('_dist_worker.py')
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONWARNINGS': 'ignore'}
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_addr', '127.0.0.1',
           '--master_port', str(_free_port()), str(worker), str(tmp_path)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=170)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    s0, s1 = (torch.load(tmp_path/f'rank{i}.pt', weights_only=True) for i in (0, 1))
    assert s0['world'] == s1['world'] == 2
    changed = 0
    for k, v in s0['final'].items():
        assert torch.allclose(v.float(), s1['final'][k].float(), atol=1e-6), f"ranks disagree on {k}"
        changed += not torch.equal(v, s0['init'][k])
    assert changed > len(s0['final'])//2, "training did not update the weights"
    assert (tmp_path/'final.safetensors').exists() and (tmp_path/'history.csv').exists()  # written by rank 0
