"""Building the stages of a plan at once: each stage runs on its own thread (its RUN steps are
runtime subprocesses) as soon as the stages it uses (base, COPY --from, RUN --mount from=) are
done. The first stage that fails cancels the others (their running steps are killed) and the
build fails with that stage's error.

Each thread works through its own Store (its own SQLite connection: one connection cannot
carry two threads' transactions); blobs, snapshots and locks are shared through the filesystem.
"""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from dockyard.dockerfile.stages import stage_dependencies

if TYPE_CHECKING:
    from dockyard.build.executor import Executor
    from dockyard.build.planner import Plan, StagePlan
    from dockyard.image import StoredImage


def dependencies(executor: Executor, plan: Plan) -> dict[int, set[int]]:
    """Stage index -> the planned stages it needs first."""
    planned = {sp.stage.index for sp in plan.stages}
    stages = executor.dockerfile.stages
    return {sp.stage.index: stage_dependencies(stages, sp.stage.index, plan.scope.values) & planned
            for sp in plan.stages}  # fmt: skip


def run_stages(executor: Executor, plan: Plan) -> None:
    """Build every stage of `plan` into executor.results, independent ones in parallel."""
    needs = dependencies(executor, plan)
    cancel = threading.Event()
    executor.cancel = cancel
    pending = list(plan.stages)
    running: dict[Future[StoredImage], StagePlan] = {}
    first_error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=len(plan.stages), thread_name_prefix="stage") as pool:
        while pending or running:
            if not cancel.is_set():
                ready = [sp for sp in pending if needs[sp.stage.index] <= executor.results.keys()]
                for sp in ready:
                    pending.remove(sp)
                    running[pool.submit(executor.stage_in_thread, sp)] = sp
            if not running:
                break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                sp = running.pop(future)
                error = future.exception()
                if error is not None:
                    if first_error is None:
                        first_error = error
                    cancel.set()
                    continue
                executor.results[sp.stage.index] = future.result()
    if first_error is not None:
        raise first_error
