"""Live runs: launch a plan's workers, sample every thread from /proc, verify its binding. No Textual here.

Modules: ``launcher`` (processes, environment, output readers), ``build`` (compiles the built-in OpenMP kernel
``kernel.c``), ``sampler`` (/proc sampling into immutable snapshots), ``verify`` (planned vs actual, pure),
``session`` (:class:`LiveSession`, the API below).

LiveSession (for the TUI and ``ompviz run``)::

    from ompviz.live import LiveSession

    session = LiveSession(interval=0.5, runtime_lib="gnu")       # interval 0.05-60 s; gnu | llvm | intel
    run_id = session.start(plan, command=None, on_sample=cb)      # plan: Plan or a sequence of Worker;
                                                                  # command None = the built-in kernel
    # cb(sample) runs on the sampler thread every interval (never two at once); a Textual app forwards it with
    # self.call_from_thread(...) / post_message and applies it in batch_update(). Each Sample is frozen:
    #   Sample(seq, time, workers=(WorkerSample(rank, pid, alive, exit_code, exit_signal, stopped, throughput,
    #          team_size, threads=(ThreadSample(tid, name, omp_thread, cpu, cpu_percent, allowed, migrations,
    #          seen, reported, place, ips), ...), omp_reports), ...), cpu_util=(percent per CPU id, ...))
    verify_sample(sample, session.workers, plan_runtime(session.runtime_lib))  # per-thread/worker verdicts now;
    # a verdict resting on the runtime's OMP_DISPLAY_AFFINITY report rather than /proc says so (source, note)
    summary = session.stop()            # SIGTERM then SIGKILL each worker group; RunSummary (samples, final
                                        # exits, verdict over each worker's steady state, mean_throughput())
    session.restart()                   # same workers/command again, new run id

Start/stop from one long-lived thread (the UI thread): the workers' PR_SET_PDEATHSIG is tied to the thread that
forked them. Recorded runs replay deterministically: ``samples_to_json(session.samples)`` writes them,
``load_samples(path)`` / ``samples_from_json(text)`` read them back as the same Sample objects, and
``replay(samples, cb, speed=None)`` feeds them to a callback (a Pilot/snapshot test uses this).
"""

from ompviz.live.sampler import Sample, ThreadSample, WorkerSample
from ompviz.live.session import (
    LiveSession,
    RunSummary,
    load_samples,
    replay,
    samples_from_json,
    samples_to_json,
)
from ompviz.live.verify import RunVerdict, ThreadVerdict, WorkerVerdict, plan_runtime, verify_run, verify_sample

__all__ = [
    "LiveSession",
    "RunSummary",
    "RunVerdict",
    "Sample",
    "ThreadSample",
    "ThreadVerdict",
    "WorkerSample",
    "WorkerVerdict",
    "load_samples",
    "plan_runtime",
    "replay",
    "samples_from_json",
    "samples_to_json",
    "verify_run",
    "verify_sample",
]
