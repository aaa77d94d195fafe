"""crdtsim's simulator: a deterministic discrete-event world on SimPy."""
