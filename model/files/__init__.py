"""Files on disk: checkpoints, atomic writes, torch-to-numpy export, shipped predictions."""
