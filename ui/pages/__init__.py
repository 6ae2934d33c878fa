"""The app's pages, as ``app.py``'s navigation runs them: one short file each, drawn by a module
of ``ui/`` (run as scripts, they hold nothing another module imports)."""
