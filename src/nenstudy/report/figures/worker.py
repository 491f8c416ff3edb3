"""The figure helper process: render pickled figure jobs from stdin, answer on stdout.

Started by :func:`nenstudy.report.figures.render.render_figures` as
``python -m nenstudy.report.figures.worker``. Each request is a pickled ``(FigureJob, folder)``;
each answer a pickled ``("ok", FigureFile)`` or ``("error", exception)``. It exits when stdin
closes. Not meant to be run by hand.
"""

from __future__ import annotations

import pickle
import signal
import sys

from .render import render_figure

__all__ = ["serve"]


def serve() -> None:
    """Answer figure jobs until stdin is closed (anything printed goes to stderr, not the answers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle; it then closes stdin
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr
    while True:
        try:
            job, figures_dir = pickle.load(requests)
        except EOFError:
            return
        try:
            answer = ("ok", render_figure(job, figures_dir))
        except Exception as exc:  # sent back and raised in the caller
            try:
                pickle.dumps(exc)
                answer = ("error", exc)
            except Exception:
                answer = ("error", RuntimeError(f"figure {job.key!r}: {type(exc).__name__}: {exc}"))
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


if __name__ == "__main__":
    serve()
