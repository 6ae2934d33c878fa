"""The server's byte-bounded caches and their memory policy, Streamlit-free.

``lru``: :class:`ByteLRU`, a thread-safe map bounded by the bytes of its values; ``budget``: how
many bytes each of the app's caches may hold, and why the total stays within about 650 MB;
``uploads``: an uploaded network as the caches keep it; ``process``: the settings of a process
serving many sessions (torch imported once, BLAS threads, page slots). ``ui/cache.py`` wraps them
for Streamlit (docs/caching.md tells the whole story).
"""
