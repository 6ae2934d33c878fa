"""The PyTorch state-dict reader: the zip and the pickle torch.save writes, read as data."""
