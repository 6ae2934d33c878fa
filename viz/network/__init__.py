"""The network as plain records and numpy: the layer-type table, per-layer facts, the checkpoint
header reader, the numpy forward pass, and a picked unit."""
