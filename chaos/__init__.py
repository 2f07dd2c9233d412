"""`make chaos`: faults injected into peak traffic, counted against the simulator's truth."""
