"""The batch on Ray: the same :class:`ImageWorker` as actors, images handed out one at
a time, outcomes returned to the driver, which writes them (atomically) and the report.

Actors: one per GPU when the cluster has GPUs (and --device is not cpu), otherwise
``--workers`` actors (default: one per 2 CPUs) sharing the CPUs. Each actor loads the
model once. An actor that dies (node lost) is restarted once and its task retried by
Ray (``max_restarts=1``, ``max_task_retries=1``); an image whose task still fails is
given once more to another actor, then reported as failed.

The images must be readable at the same paths on every node (a shared file system);
``--cache-dir`` must be such a path too, or each node fills its own cache.
"""

from __future__ import annotations

import logging
from collections import deque

from medsam_gui.cluster.manifest import ImageJob
from medsam_gui.cluster.work import ImageWorker, failed_outcome
from medsam_gui.core.errors import MedsamGuiError

LOCAL_CPUS = 2
LOCAL_OBJECT_STORE_BYTES = 256 * 1024 * 1024


def import_ray():
    """The ray module, or MedsamGuiError saying how to install it."""
    try:
        import ray
    except ImportError as error:
        raise MedsamGuiError(
            "--ray needs Ray, which is not installed: pip install 'medsam-gui[cluster]' (or pip install 'ray>=2.9')"
        ) from error
    return ray


def connect(address: str, workers: int | None = None):
    """ray.init for 'local' (a new local instance, 2 CPUs or --workers), 'auto' (the running
    cluster) or an address (host:port or ray://host:port). Returns the ray module."""
    ray = import_ray()
    try:
        if address == "local":
            ray.init(num_cpus=max(LOCAL_CPUS, workers or 0), include_dashboard=False,
                     object_store_memory=LOCAL_OBJECT_STORE_BYTES, logging_level=logging.WARNING)
        else:
            ray.init(address=address, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise MedsamGuiError(f"cannot connect to the Ray cluster at {address} ({error})") from error
    return ray


class RayExecutor:
    """Runs image jobs on Ray actors; ``run`` has the LocalExecutor's contract."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.ray = connect(settings.ray_address, settings.workers)
        try:
            self.actors, self.placement = self._start_actors()
        except BaseException:
            self.ray.shutdown()
            raise

    def _start_actors(self):
        ray, settings = self.ray, self.settings
        resources = ray.cluster_resources()
        cpus, gpus = int(resources.get("CPU", 1)), int(resources.get("GPU", 0))
        if gpus and settings.device in ("auto", "cuda", "torch-cuda", "onnx", "onnx-cuda"):
            count = settings.workers or gpus
            options = dict(num_gpus=1, num_cpus=max(1, min(cpus // max(count, 1), 4)))
            placement = f"{count} actor(s), one GPU each"
        else:
            count = settings.workers or max(1, cpus // 2)
            options = dict(num_cpus=max(1, cpus // count))
            placement = f"{count} actor(s), {options['num_cpus']} CPU(s) each"
        actor_class = ray.remote(ImageWorker).options(max_restarts=1, max_task_retries=1, **options)
        actors = [actor_class.remote(settings.model, settings.device, settings.cache_dir, settings.disk_cache_mb)
                  for _ in range(count)]
        try:
            described = ray.get([actor.describe.remote() for actor in actors])
        except Exception as error:  # the model cannot load: nothing can run
            raise MedsamGuiError(f"the workers could not load the model ({_reason(error)})") from error
        return actors, f"on Ray: {placement}, {described[0]}"

    def describe(self) -> str:
        return self.placement

    def run(self, jobs: list[ImageJob], handle, should_stop) -> None:
        ray, options = self.ray, self.settings.options
        embeddings_only = self.settings.embeddings_only
        pending = deque((job, 0, None) for job in jobs)  # (job, attempt, actor index that failed it)
        in_flight = {}  # object ref -> (job, attempt, actor index)
        idle = deque(range(len(self.actors)))

        def submit() -> None:
            while pending and idle and not should_stop():
                job, attempt, failed_on = pending[0]
                candidates = [index for index in idle if index != failed_on]
                if not candidates:
                    if len(self.actors) > 1:
                        return  # a retry waits for another actor (one is busy, so one will come)
                    candidates = list(idle)
                index = candidates[0]
                idle.remove(index)
                pending.popleft()
                reference = self.actors[index].process.remote(job, options, embeddings_only)
                in_flight[reference] = (job, attempt, index)

        submit()
        while in_flight:
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            reference = ready[0]
            job, attempt, index = in_flight.pop(reference)
            idle.append(index)
            try:
                outcome = ray.get(reference)
            except Exception as error:
                if attempt == 0:
                    pending.appendleft((job, 1, index))  # once more, on another actor when there is one
                    submit()
                    continue
                outcome = failed_outcome(job, f"failed twice on the cluster ({_reason(error)})")
            handle(job, outcome)
            submit()

    def close(self) -> None:
        for actor in getattr(self, "actors", []):
            try:
                self.ray.kill(actor)
            except Exception:  # already gone
                pass
        self.ray.shutdown()


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1] if text else ''}"[:300]
