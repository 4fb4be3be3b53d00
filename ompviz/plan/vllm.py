"""vLLM CPU backend emulation (being written)."""

from __future__ import annotations

from ompviz.errors import OmpvizError


def plan_vllm(topology, request):
    raise OmpvizError("--strategy vllm is not available yet in this build")
