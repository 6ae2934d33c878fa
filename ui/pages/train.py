"""The Train page (``ui/train.py``)."""

from ui import train

train.page()
