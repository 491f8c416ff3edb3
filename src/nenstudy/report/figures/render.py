"""Render the report's figures, sharing the work with a helper process when there is a spare core.

Drawing and saving the ~17 figures of a study (Agg at 300 dpi, then SVG) is the costliest part
of a report. Matplotlib is not thread-safe, so the work is shared between processes: the
calling process renders figures itself while one helper process renders others, both taking
the next figure from one queue (the helper from the front, the caller from the back), so
neither waits while figures remain.

The helper is a fresh interpreter running :mod:`nenstudy.report.figures.worker` (jobs and
results are pickled over its stdin/stdout), never a ``fork`` of the caller: the caller may run
threads (a progress display, a database engine) whose locks a forked child would inherit in an
unknown state, and unlike ``multiprocessing``'s spawn/forkserver it never re-imports the
caller's main script. When the helper cannot start or dies, the caller renders what is left;
when there are too few figures or only one core, everything is rendered in the caller. The
files written are the same either way.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from matplotlib.figure import Figure

from .style import FigureFile, figure_style, save_figure

__all__ = ["FigureJob", "render_figure", "render_figures", "MIN_FIGURES_FOR_HELPER"]

#: Below this many figures the helper's start-up (a fresh interpreter importing matplotlib,
#: about half a second) costs more than it saves.
MIN_FIGURES_FOR_HELPER = 6


@dataclass(frozen=True)
class FigureJob:
    """One figure to draw and save: ``draw(**kwargs)`` returns the figure, saved as ``key``.

    ``draw`` must be a module-level function and ``kwargs`` picklable (the job may be sent to
    the helper process).
    """

    key: str
    draw: Callable[..., Figure]
    kwargs: Mapping[str, Any] = field(default_factory=dict)


def render_figure(job: FigureJob, figures_dir: Path) -> FigureFile:
    """Draw one figure under the house style and save it (PNG 300 dpi + SVG).

    Parameters
    ----------
    job : FigureJob
        What to draw and the file stem.
    figures_dir : Path
        Output folder.

    Returns
    -------
    FigureFile
    """
    with figure_style():
        fig = job.draw(**job.kwargs)
    return save_figure(fig, Path(figures_dir), job.key)


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _start_helper() -> subprocess.Popen | None:
    """Start the helper interpreter with the caller's module search path; ``None`` if it cannot start."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    try:
        return subprocess.Popen([sys.executable, "-m", "nenstudy.report.figures.worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, env=env)
    except OSError:
        return None


class _Helper:
    """Feeds the shared queue's front to the helper process from a thread of the caller."""

    def __init__(self, process: subprocess.Popen, queue: deque, lock: threading.Lock, figures_dir: Path) -> None:
        self.process, self.queue, self.lock, self.figures_dir = process, queue, lock, figures_dir
        self.done: dict[str, FigureFile] = {}
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="nenstudy-figure-helper", daemon=True)

    def _run(self) -> None:
        stdin, stdout = self.process.stdin, self.process.stdout
        while self.error is None:
            with self.lock:
                job = self.queue.popleft() if self.queue else None
            if job is None:
                break
            try:
                pickle.dump((job, self.figures_dir), stdin, protocol=pickle.HIGHEST_PROTOCOL)
                stdin.flush()
                status, payload = pickle.load(stdout)
            except (OSError, EOFError, pickle.UnpicklingError):  # helper gone: the caller renders the rest
                with self.lock:
                    self.queue.appendleft(job)
                break
            if status == "ok":
                self.done[job.key] = payload
            else:  # the drawing code failed: report it as the caller would have
                self.error = payload

    def close(self) -> None:
        self.thread.join()
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


def render_figures(jobs: Iterable[FigureJob], figures_dir: Path, *, parallel: bool | None = None
                   ) -> dict[str, FigureFile]:
    """Render every job, in this process and (when worthwhile) one helper process.

    Parameters
    ----------
    jobs : iterable of FigureJob
        The figures, in report order (the returned dict keeps that order).
    figures_dir : Path
        Output folder (created if needed).
    parallel : bool, optional
        ``False``: render everything here. ``None`` (default): use a helper process when at
        least two cores are available and there are at least :data:`MIN_FIGURES_FOR_HELPER`
        figures. ``True``: use a helper whenever there are two or more figures.

    Returns
    -------
    dict of str to FigureFile
        The saved figures by key, in the order of ``jobs``.

    Raises
    ------
    ValueError
        When two jobs share a key.
    Exception
        Whatever a drawing function raised (in this process or in the helper).
    """
    jobs = list(jobs)
    keys = [job.key for job in jobs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"figure keys must be unique, got {keys}")
    figures_dir = Path(figures_dir).resolve()
    figures_dir.mkdir(parents=True, exist_ok=True)
    if parallel is None:
        parallel = _available_cores() >= 2 and len(jobs) >= MIN_FIGURES_FOR_HELPER
    process = _start_helper() if parallel and len(jobs) >= 2 else None
    if process is None:
        return {job.key: render_figure(job, figures_dir) for job in jobs}

    queue, lock = deque(jobs), threading.Lock()
    helper = _Helper(process, queue, lock, figures_dir)
    done: dict[str, FigureFile] = {}

    def render_from_back() -> None:
        while True:
            with lock:
                job = queue.pop() if queue else None
            if job is None:
                return
            done[job.key] = render_figure(job, figures_dir)

    helper.thread.start()
    try:
        render_from_back()
    except BaseException:
        with lock:  # stop the helper after its current figure
            queue.clear()
        raise
    finally:
        helper.close()
    if helper.error is not None:
        raise helper.error
    render_from_back()  # jobs handed back by a helper that died
    done.update(helper.done)
    return {key: done[key] for key in keys}
