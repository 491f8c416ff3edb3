"""run_side_by_side: results in job order, threads shared while jobs run and restored after."""

from __future__ import annotations

import threading

import duckdb
import pytest

from nenstudy.registry.lanes import run_side_by_side


def _threads(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT current_setting('threads')").fetchone()[0])


@pytest.fixture
def con():
    connection = duckdb.connect(":memory:", config={"threads": 4})
    yield connection
    connection.close()


def test_results_come_in_job_order_and_tables_are_shared(con):
    def job(i: int):
        def run(cursor):
            cursor.execute(f"CREATE TABLE t{i} AS SELECT range AS x FROM range({10 * (i + 1)})")
            return i, cursor.execute(f"SELECT count(*) FROM t{i}").fetchone()[0]
        return run

    results = run_side_by_side(con, [job(i) for i in range(6)])
    assert results == [(i, 10 * (i + 1)) for i in range(6)]
    # Every cursor wrote into the same database.
    assert con.execute("SELECT sum(x) FROM t5").fetchone()[0] == sum(range(60))


def test_threads_are_shared_while_jobs_run_and_restored(con):
    seen: list[int] = []
    both_started = threading.Barrier(2)

    def job(cursor):
        both_started.wait(timeout=10)
        seen.append(_threads(cursor))
        both_started.wait(timeout=10)  # read while both still run

    run_side_by_side(con, [job, job])
    # 4 threads, 2 jobs running: each job's calling thread plus 4 - 2 background threads.
    assert seen == [3, 3]
    assert _threads(con) == 4


def test_a_job_alone_gets_every_thread(con):
    assert run_side_by_side(con, [lambda cursor: _threads(cursor)]) == [4]


def test_an_exception_is_raised_after_the_other_jobs_end_and_threads_restored(con):
    finished = threading.Event()

    def failing(cursor):
        raise ValueError("bad job")

    def slow(cursor):
        cursor.execute("SELECT count(*) FROM range(2000000)").fetchall()
        finished.set()

    with pytest.raises(ValueError, match="bad job"):
        run_side_by_side(con, [failing, slow])
    assert finished.is_set()
    assert _threads(con) == 4


def test_a_single_threaded_database_runs_jobs_one_at_a_time():
    con = duckdb.connect(":memory:", config={"threads": 1})
    running = 0
    most = 0
    lock = threading.Lock()

    def job(cursor):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        cursor.execute("SELECT count(*) FROM range(100000)").fetchall()
        with lock:
            running -= 1

    run_side_by_side(con, [job, job, job])
    assert most == 1
    assert _threads(con) == 1
    con.close()


def test_an_interrupt_stops_the_running_statements_and_starts_no_other() -> None:
    """Ctrl-C while jobs run: raised at once, no job left running, the connection free."""
    import os
    import signal
    import time

    con = duckdb.connect(config={"threads": 2})
    started: list[int] = []

    def job(i: int):
        def run(cursor: duckdb.DuckDBPyConnection) -> int:
            started.append(i)
            # hours of work unless interrupted (10^12 pairs)
            cursor.execute("SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b")
            return i
        return run

    # as Ctrl-C does, again every 0.5 s until it is seen: a signal that arrives while the
    # main thread is inside DuckDB's own call may be taken by DuckDB for its statement there
    seen = threading.Event()

    def press() -> None:
        while not seen.wait(0.5):
            os.kill(os.getpid(), signal.SIGINT)

    # Python's own handler, whatever this process was started with (a shell's background
    # job starts with SIGINT ignored)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=press, daemon=True).start()
    begin = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_side_by_side(con, [job(i) for i in range(5)])
    finally:
        seen.set()
        signal.signal(signal.SIGINT, before)
    # a liveness bound, not a speed test: uninterrupted, the jobs would run for hours
    assert time.perf_counter() - begin < 120
    assert sorted(started) == [0, 1]  # the jobs not started when it came never start
    assert _threads(con) == 2
    con.close()  # no cursor is busy any more


def test_an_interrupt_handed_to_a_worker_thread_still_stops_the_jobs(tmp_path) -> None:
    """The kernel may hand Ctrl-C's SIGINT to any thread: the waiting caller must still see it
    (in a child process, so that a hang fails the test instead of stalling the suite)."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import signal, threading, time, duckdb
        from nenstudy.registry.lanes import run_side_by_side
        signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
        con = duckdb.connect(config={"threads": 2})
        idents = []
        def job(cursor):
            idents.append(threading.get_ident())
            cursor.execute("SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b")
        seen = threading.Event()
        def kill_a_worker():
            while not idents:
                time.sleep(0.01)
            while not seen.wait(0.3):
                signal.pthread_kill(idents[0], signal.SIGINT)
        threading.Thread(target=kill_a_worker, daemon=True).start()
        try:
            run_side_by_side(con, [job, job, job])
        except KeyboardInterrupt:
            seen.set()
            print("interrupted")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "interrupted", done.stderr
