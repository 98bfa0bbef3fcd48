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
# One write per line: ranks sharing a pipe (torchrun without --tee) do not interleave.
line = f"torch rank {rank}/{world} local {os.environ['LOCAL_RANK']} sum {value.item():.0f}\n"
os.write(1, line.encode())
dist.destroy_process_group()
