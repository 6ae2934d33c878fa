"""The Architecture lab page (``ui/lab.py``)."""

from ui import lab

lab.page()
