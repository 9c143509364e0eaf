#!/usr/bin/python3
"""bench/mpi/torch_ddp.py - PyTorch DistributedDataParallel (gloo backend) on
the same problem as bp_dp.c, for bench/mpi/run.sh:

    /usr/bin/python3 bench/mpi/torch_ddp.py ARCH BATCH STEPS NP [REPEAT]

NP processes (torch.multiprocessing, one thread each, gloo over 127.0.0.1;
NP = 1: the plain model, no DDP), f32, ReLU hidden layers, softmax +
cross-entropy (mean), SGD momentum 0.9, lr 0.01, synthetic data (uniform
pixels, random labels) of STEPS global batches of BATCH rows; each process
takes its contiguous share of every batch of one permutation (DDP averages
the shares' gradients, which is the batch's mean when the shares are equal).
A warm-up epoch, then a measured epoch with DDP's allreduce (its buckets
overlap the backward pass) and one under no_sync() (no communication: the
compute). Process 0 prints one JSON line; comm_exposed = synced - no_sync."""
import json
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def worker(rank, world, arch, batch, steps, repeat, port):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    if world > 1:
        dist.init_process_group("gloo", rank=rank, world_size=world)
    sizes = [int(v) for v in arch.split("-")]
    gen = torch.Generator().manual_seed(7)
    X = torch.rand(batch * steps, sizes[0], generator=gen)
    Y = torch.randint(0, sizes[-1], (batch * steps,), generator=gen)
    lo, hi = batch * rank // world, batch * (rank + 1) // world
    for _ in range(repeat):
        torch.manual_seed(1)
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*layers)
        net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        lossf = torch.nn.CrossEntropyLoss()

        def step(x, y):
            opt.zero_grad(set_to_none=True)
            lossf(net(x), y).backward()
            opt.step()

        def epoch(sync):
            perm = torch.randperm(batch * steps, generator=gen)   # the same on every process
            if world > 1:
                dist.barrier()
            t0 = time.perf_counter()
            for s in range(steps):
                idx = perm[s * batch + lo: s * batch + hi]
                if sync or world == 1:
                    step(X[idx], Y[idx])
                else:
                    with net.no_sync():
                        step(X[idx], Y[idx])
            return time.perf_counter() - t0

        epoch(True)   # warm-up
        synced = epoch(True)
        alone = epoch(False) if world > 1 else synced
        if rank == 0:
            print(json.dumps({"tool": "pytorch_ddp", "arch": arch, "np": world, "batch": batch, "steps": steps,
                              "seconds": round(synced, 6), "samples_per_s": round(batch * steps / synced, 1),
                              "compute_s": round(alone, 6), "comm_exposed_s": round(synced - alone, 6),
                              "torch": torch.__version__}), flush=True)
    if world > 1:
        dist.destroy_process_group()


def main():
    arch, batch, steps, world = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    repeat = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    with socket.socket() as s:   # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if world == 1:
        worker(0, 1, arch, batch, steps, repeat, port)
    else:
        mp.spawn(worker, args=(world, arch, batch, steps, repeat, port), nprocs=world, join=True)


if __name__ == "__main__":
    main()
