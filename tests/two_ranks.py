"""Run a function on two CPU processes joined by gloo, for the tests that
check that training state is identical on every rank."""
import socket

import torch.distributed as dist
import torch.multiprocessing as mp


def _join_and_run(rank: int, port: int, fn, out: str) -> None:
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=2)
    try:
        fn(rank, out)
    finally:
        dist.destroy_process_group()


def run_on_two_ranks(fn, out) -> None:
    """Call ``fn(rank, out)`` on ranks 0 and 1 of a gloo group; ``fn``
    must be a module-level function (the processes are spawned)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    mp.start_processes(_join_and_run, args=(port, fn, str(out)), nprocs=2,
                       start_method='spawn')
