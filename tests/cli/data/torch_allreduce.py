# An unmodified PyTorch program, as users run under torchrun: env:// rendezvous, gloo,
# all_reduce and barrier.
import os

import torch
import torch.distributed as dist

dist.init_process_group("gloo")
rank = dist.get_rank()
world = dist.get_world_size()
value = torch.tensor([float(rank + 1)])
dist.all_reduce(value)
dist.barrier()
print(f"torch rank {rank}/{world} local {os.environ['LOCAL_RANK']} sum {value.item():.0f}", flush=True)
dist.destroy_process_group()
