"""Run ``tools/train.py`` in a child process that a test can kill.

A fresh interpreter spends most of a tiny run importing torch and the
OpenMMLab stack. The children are forked from a forkserver that has imported
them once (and run nothing), so a test can kill and resume a run many times
within seconds. Forking the test process itself is not safe: after the tests
before it ran torch ops, its OpenMP / intra-op thread pools are not usable in
a forked child, which then hangs in its first parallel op. The child runs the
tool's ``main()`` exactly as the command line does and ends with its exit
status (1 on an exception, whose traceback goes to the log).
"""
import builtins
import multiprocessing
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

from file_faults import open_failing_halfway
from tool_loader import load_tool

from .utils import REPO_ROOT


def stall_at(iteration: int, seconds: float) -> None:
    """Make this process sleep ``seconds`` before training iteration ``iteration``."""
    from mmengine.runner import IterBasedTrainLoop
    run_iter = IterBasedTrainLoop.run_iter

    def stalling_run_iter(loop, data_batch):
        if loop.iter + 1 == iteration:
            time.sleep(seconds)
        run_iter(loop, data_batch)

    IterBasedTrainLoop.run_iter = stalling_run_iter


def kill_while_writing(victim: str, nth: int = 1) -> None:
    """SIGKILL this process halfway through writing the ``nth`` file opened for
    writing whose name starts with ``victim`` (e.g. ``iter_3.pth``, or
    ``last_checkpoint``): half the data reach the file, then the process dies."""
    builtins.open = open_failing_halfway(victim, nth,
                                         lambda: os.kill(os.getpid(), signal.SIGKILL))


def _train_child(argv: Sequence[str], log_path: str, environ: Dict[str, str],
                 fault: Optional[Callable[[], None]]) -> None:
    log = open(log_path, 'a', buffering=1)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    os.environ.update(environ)
    os.chdir(REPO_ROOT)
    status = 0
    try:
        if fault is not None:
            fault()
        train = load_tool('tools/train.py')
        sys.argv = ['tools/train.py', *argv]
        train.main()
    except BaseException:  # noqa: B036 - report anything, as the interpreter would
        traceback.print_exc()
        status = 1
    log.flush()
    os._exit(status)


def _context() -> multiprocessing.context.BaseContext:
    """The forkserver context; its server imports the stack once, before any op."""
    context = multiprocessing.get_context('forkserver')
    context.set_forkserver_preload(['torch', 'mmengine.runner', 'mmseg.models', 'mmmtl'])
    return context


def start_train(argv: Sequence[str], log_path, environ: Optional[Dict[str, str]] = None,
                fault: Optional[Callable[[], None]] = None) -> multiprocessing.Process:
    """Start ``tools/train.py argv`` in a child (its output appended to
    ``log_path``, ``environ`` added to its environment); the child calls
    ``fault`` first (e.g. ``partial(kill_while_writing, 'iter_3.pth')``)."""
    process = _context().Process(
        target=_train_child, args=(list(argv), str(log_path), dict(environ or {}), fault),
        daemon=True)
    process.start()
    return process


def train(argv: Sequence[str], log_path, kill_after: Optional[float] = None,
          kill_after_output: str = '', timeout: float = 300, **kwargs) -> int:
    """Run ``tools/train.py argv`` in a child and return its exit code:
    ``-9`` when it was killed (by its ``fault``, or with SIGKILL ``kill_after``
    seconds after the log first shows ``kill_after_output``, or after the start)."""
    log_path = Path(log_path)
    log_path.touch()
    offset = log_path.stat().st_size
    process = start_train(argv, log_path, **kwargs)
    deadline = time.monotonic() + timeout
    while kill_after_output and process.is_alive() and time.monotonic() < deadline:
        with open(log_path) as log:
            log.seek(offset)
            if kill_after_output in log.read():
                break
        time.sleep(0.02)
    process.join(kill_after if kill_after is not None else deadline - time.monotonic())
    if process.is_alive():
        process.kill()
        process.join()
        if kill_after is None:
            raise TimeoutError(f'tools/train.py {" ".join(argv)} ran over {timeout} s')
    return process.exitcode
