"""Lab work in a child process: progress reports, a result or an error, and cancellation.

A C-MAPSS fit is CPU-bound numpy/scikit-learn for tens of seconds. On a worker thread it holds
the GIL often enough to delay the server's event loop (measured: p99 tick lag 47–85 ms, max
122 ms during a 25 s fit; ``docs/decisions/0019-model-lab-in-a-child-process.md``) and it cannot
be stopped. In a child process it shares no GIL with the server and :meth:`Job.cancel` ends it.
Children fork from a ``forkserver`` that has already imported the models, so a job starts in
milliseconds, not in the seconds a fresh interpreter needs to import scikit-learn.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["Job", "JobCancelledError", "JobFailedError", "Progress", "report", "start_job"]

#: ``progress(fraction, text)``: how a job says how far it is (fraction 0 … 1).
Progress = Callable[[float, str], None]
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["modax.viz._lab"])
#: Where :func:`report` sends progress: the pipe to the parent inside a job, nowhere outside.
_REPORT_TO: list[Connection] = []


class JobCancelledError(Exception):
    """The job was cancelled before it finished."""


class JobFailedError(Exception):
    """The job raised: ``str()`` is its one-line message, ``kind`` the exception's type name."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def report(fraction: float, text: str) -> None:
    """Tell the parent how far this job is (a :data:`Progress`); does nothing outside a job.

    Examples
    --------
    >>> report(0.5, "halfway")  # not in a job: nobody listens
    """
    for conn in _REPORT_TO:
        conn.send(("progress", fraction, text))


def _child(conn: Connection, work: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """Run ``work(*args)`` and send its result (or its error) to the parent."""
    _REPORT_TO.append(conn)
    try:
        result = work(*args)
    except Exception as exc:  # every error reaches the page, none is lost with the child
        if not isinstance(exc, ValueError | TypeError | OSError):
            traceback.print_exc()  # a bug, not bad input: its traceback goes to the server's log
        conn.send(("error", type(exc).__name__, str(exc)))
    else:
        conn.send(("result", result))
    finally:
        conn.close()


class Job:
    """A running job; :func:`start_job` makes one.

    Examples
    --------
    >>> import asyncio, math
    >>> asyncio.run(start_job(math.sqrt, 16.0).wait())
    4.0
    >>> asyncio.run(start_job(math.sqrt, -1.0).wait())
    Traceback (most recent call last):
    ...
    modax.viz._jobs.JobFailedError: math domain error
    """

    def __init__(self, work: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._conn, child_end = _CONTEXT.Pipe(duplex=False)
        self.process = _CONTEXT.Process(
            target=_child, args=(child_end, work, args), daemon=True, name="modax-lab-job"
        )
        self.process.start()
        child_end.close()
        self.fraction = 0.0
        self.text = "starting"
        self.cancelled = False

    def cancel(self) -> None:
        """Stop the job now (its process ends); :meth:`wait` raises :class:`JobCancelledError`."""
        self.cancelled = True
        if self.process.is_alive():
            self.process.terminate()

    async def wait(self, on_progress: Progress | None = None) -> Any:
        """The job's result, calling ``on_progress(fraction, text)`` on the loop as it reports.

        Raises
        ------
        JobCancelledError
            After :meth:`cancel`.
        JobFailedError
            When the job raised, or its process died without an answer.
        """
        loop = asyncio.get_running_loop()
        readable = asyncio.Event()
        loop.add_reader(self._conn.fileno(), readable.set)
        try:
            while True:
                await readable.wait()
                readable.clear()
                while self._conn.poll():
                    if self.cancelled:
                        raise JobCancelledError("cancelled")
                    try:
                        message = self._conn.recv()
                    except EOFError:
                        self.process.join(5)
                        ended = f"the job ended without an answer ({self.process.exitcode})"
                        raise JobFailedError("ProcessError", ended) from None
                    if message[0] == "progress":
                        self.fraction, self.text = message[1], message[2]
                        if on_progress is not None:
                            on_progress(self.fraction, self.text)
                    elif message[0] == "result":
                        return message[1]
                    else:
                        raise JobFailedError(message[1], message[2])
        finally:
            loop.remove_reader(self._conn.fileno())
            self._conn.close()
            self.process.join(5)


def start_job(work: Callable[..., Any], *args: Any) -> Job:
    """Start ``work(*args, progress=progress)`` in a child process.

    Parameters
    ----------
    work : callable
        A module-level function, or a ``functools.partial`` of one (pickled by reference); it
        may call :func:`report` to say how far it is. Its result must pickle.
    *args
        Its arguments (they must pickle).
    """
    return Job(work, args)
