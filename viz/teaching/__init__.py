"""Teaching arithmetic and sentences: the tour's concepts, the architecture lab, training curves,
a unit's field in words, the confusion matrix and the atlas record."""
