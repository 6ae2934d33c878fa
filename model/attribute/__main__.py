"""``python -m model.attribute``: see :mod:`model.attribute`."""

from model.attribute import main

if __name__ == "__main__":
    raise SystemExit(main())
