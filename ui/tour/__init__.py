"""The concepts tour: eight concepts and five design rules, each beside a live view of the
sidebar's model and input.

Every step is one :class:`ui.tour.registry.Step` in :data:`ui.tour.registry.REGISTRY`, registered
by the ``@tour_step`` decorator on the function that draws its figure (its text, its figure,
whether it needs an input), one file per concept (``convolution.py``, ``filters.py``,
``epochs.py``, ``one_by_one.py``, ``three_by_three.py``, ``feature_maps.py``, ``activation.py``,
``receptive_field.py``, ``rules.py``); ``helpers.py`` holds what they share. ``page.py`` imports
them in tour order and draws the page. Each step is addressable: ``?concept=convolution``; the
page reads and writes only the ``concept`` query parameter. Rule checks and the arithmetic live in
``viz/teaching/concepts.py``; the tour's figures in ``viz/pictures/tourfigs.py``. Session-state keys: ``tour.*``.
"""
