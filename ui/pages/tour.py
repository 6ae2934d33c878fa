"""The Concepts tour page (``ui/tour/``)."""

from ui.tour import page

page.page()
