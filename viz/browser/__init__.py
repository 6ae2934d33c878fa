"""What the browser components receive: the lens payload, the unit-field and saliency panels'
data, and the small HTML views."""
