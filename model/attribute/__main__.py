"""``python -m model.attribute``: see :mod:`model.attribute`."""

from model.attribute import main

raise SystemExit(main())
