"""``python -m viz.receptive_field SPEC.json [--table]``: the calculator's command line."""

import sys

import viz.network.layertypes  # noqa: F401  (hands the engine the app's layer types)
from viz.receptive_field.cli import main

if __name__ == "__main__":
    sys.exit(main())
