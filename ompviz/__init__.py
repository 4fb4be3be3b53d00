"""ompviz: plan, preview, launch and verify OpenMP thread binding on the real topology."""

__version__ = "0.1.0"
