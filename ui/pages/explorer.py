"""The Explore page: what the network predicts for the sidebar's input, and why
(``ui/explorer.py``)."""

from ui import explorer

explorer.page()
