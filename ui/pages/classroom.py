"""The Class page: the teacher's code, join link, QR code and the class gallery
(``ui/classroom/panel.py``)."""

from ui.classroom import panel

panel.page()
