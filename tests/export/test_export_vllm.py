"""vllm export: the variables, and the verdict of ompviz's vLLM emulation on them (by hand on the 16-PU box)."""

from __future__ import annotations

from test_export_golden import hand_plan, small_box

from ompviz.export import render


def test_vllm_order_that_vllm_reproduces():
    topo = small_box()
    # vLLM hands out its per-NUMA places largest first, ties to the higher top CPU: NUMA 1 (4-7) goes to rank 0.
    # With one hardware thread per core (vLLM's default) the places are 4-7 and 0-3, 4 threads each.
    text = render("vllm", hand_plan(topo, ["4-7", "0-3"], places="threads"), topo)
    assert "export VLLM_CPU_OMP_THREADS_BIND='4-7|0-3'\n" in text
    assert "export VLLM_CPU_NUM_OF_RESERVED_CPU=0\n" in text
    assert "# CHECKED:" in text and "WARNING" not in text


def test_vllm_says_when_it_will_not_reproduce():
    topo = small_box()
    text = render("vllm", hand_plan(topo, ["0-3", "4-7"], places="threads"), topo)
    assert "# WARNING: vLLM will NOT reproduce this plan" in text
    assert "#   rank 0: planned CPUs 0-3, vLLM would bind 4-7" in text
    # SMT siblings in the list: vLLM keeps the first of each core only
    text = render("vllm", hand_plan(topo, ["4-7,12-15", "0-3,8-11"], places="cores"), topo)
    assert "#   rank 0: planned CPUs 4-7,12-15, vLLM would bind 4-7" in text


def test_vllm_reserved_cpus_lower_the_thread_count():
    topo = small_box()
    # 3 threads on 4 places: vLLM gives place size - reserved threads, so reserved = 1 reproduces it
    text = render("vllm", hand_plan(topo, ["4-7", "0-3"], places="threads", threads=3), topo)
    assert "export VLLM_CPU_NUM_OF_RESERVED_CPU=1\n" in text and "# CHECKED:" in text
