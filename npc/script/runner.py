"""Calling designer hooks safely: a time limit, and failures reported as `file:line: reason`.

Sync hooks run on a small dedicated thread pool (a slow one never holds the event loop),
async ones on the loop. A hook past its time limit is abandoned: it is reported, the NPC
goes on, and whatever it does afterwards through the Npc handle is ignored.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import traceback
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from bridge.errors import BridgeError
from npc.script.handle import Run, current

SCRIPT_ERROR = "script-error"


class ScriptError(BridgeError):
    """A designer script failed: `where` is "file:line", `why` the reason."""

    code = SCRIPT_ERROR
    stage = "script"

    def __init__(self, where: str, why: str) -> None:
        super().__init__(f"{where}: {why}")
        self.where = where
        self.why = why


async def call(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    *,
    source: str,
    timeout_s: float,
    pool: Executor,
    capture: bool = False,
) -> Run:
    """Run hook `fn(*args)`; ScriptError if it raises or runs past `timeout_s`.

    Returns the run: with `capture`, the lines the hook said are in `run.capture`.
    """
    run = Run(capture=[] if capture else None)
    ctx = contextvars.copy_context()
    ctx.run(current.set, run)
    name = getattr(fn, "__name__", "hook")
    loop = asyncio.get_running_loop()
    try:
        if inspect.iscoroutinefunction(fn):
            task = loop.create_task(fn(*args), context=ctx)
            run.result = await asyncio.wait_for(task, timeout_s)
        else:
            future = loop.run_in_executor(pool, ctx.run, fn, *args)
            run.result = await asyncio.wait_for(future, timeout_s)
            if inspect.isawaitable(run.result):  # a plain def that returned a coroutine
                run.result = await asyncio.wait_for(run.result, timeout_s)
    except TimeoutError:
        with run.lock:
            run.abandoned = True
        raise ScriptError(
            source, f"{name} ran past the {timeout_s:g} s limit and was skipped"
        ) from None
    except asyncio.CancelledError:
        with run.lock:
            run.abandoned = True
        raise
    except Exception as e:
        with run.lock:
            run.abandoned = True
        raise ScriptError(where_of(e, source), f"{name}: {type(e).__name__}: {e}") from e
    return run


def where_of(error: BaseException, source: str) -> str:
    """The deepest line of the hook's own file in the traceback; its definition if none."""
    path = source.rpartition(":")[0]
    where = source
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == path:
            where = f"{frame.filename}:{frame.lineno}"
    return where
