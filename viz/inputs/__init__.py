"""What comes in: digits made MNIST-like (uploads, drawings) and links parsed and quoted."""
