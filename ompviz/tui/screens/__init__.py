"""Modal screens of the explorer: help, load a topology."""
