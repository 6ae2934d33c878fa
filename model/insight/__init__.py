"""Looking inside a torch network: activations (hook-safe copies), effective receptive fields,
feature visualization, test-set predictions, engine specs read from any module."""
