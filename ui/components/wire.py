"""Widget states as they arrive over the websocket, bounded before Streamlit parses them.

Streamlit parses a widget's JSON state (a component's state, a chart's selection, a table
editor's edits) and its event list before the script runs, so neither a view's guard nor a
component's checks see a state that is not JSON, or JSON nested 100,000 deep: the parse raises
and the page shows a traceback. :func:`install` puts a check in front of that parse
(``viz.inputs.wirejson``: length and depth before ``json.loads``): a state that fails it reads
as none sent (the widget's default), and :func:`rejected` tells the component's page why.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any

from viz.inputs import wirejson
from viz.limits import REJECTED_STATE_SESSIONS

_LOG = logging.getLogger(__name__)
_JSON_FIELDS = ("json_value", "json_trigger_value")
_MAX_SESSIONS = REJECTED_STATE_SESSIONS
_lock = threading.Lock()
_rejected: OrderedDict[str, dict[str, str]] = OrderedDict()  # session id -> {widget id: why}
_installed = False


def _session_id() -> str | None:
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
    ctx = get_script_run_ctx(suppress_warning=True)
    return None if ctx is None else ctx.session_id


def _note(widget_id: str, why: str) -> None:
    _LOG.warning("Ignored the state a browser sent for %s: %s", widget_id[:120], why)
    session = _session_id()
    if session is None:
        return
    with _lock:
        seen = _rejected.setdefault(session, {})
        _rejected.move_to_end(session)
        if len(seen) < 32:
            seen[widget_id] = why
        while len(_rejected) > _MAX_SESSIONS:
            _rejected.popitem(last=False)


def checked(unpack):
    """``unpack`` (Streamlit's reader of a widget state's value) with the JSON fields bounded:
    a JSON state that is too long, too deep or not JSON reads as None (none sent)."""
    def read(widget_state: Any) -> Any:
        field = widget_state.WhichOneof("value")
        if field not in _JSON_FIELDS:
            return unpack(widget_state)
        text = getattr(widget_state, field)
        value, why = wirejson.loads(text)
        if why is not None:
            _note(widget_state.id, why)
            return None
        # an event list stays text: Streamlit's trigger reader parses it (now bounded)
        return value if field == "json_value" else text
    read.__wrapped__ = unpack  # type: ignore[attr-defined]
    return read


def install() -> None:
    """Bound every widget's JSON state, once per process (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        import importlib
        session_state = importlib.import_module("streamlit.runtime.state.session_state")
        if not hasattr(session_state.unpack_widget_state_value, "__wrapped__"):
            session_state.unpack_widget_state_value = checked(
                session_state.unpack_widget_state_value)
        _installed = True


def rejected(key: str) -> str | None:
    """Why the state this session's browser last sent for the widget or component ``key`` was
    ignored (once; None when it was not)."""
    from streamlit.components.v2.bidi_component.constants import EVENT_DELIM
    session = _session_id()
    if session is None:
        return None
    with _lock:
        seen = _rejected.get(session) or {}
        for wid in list(seen):
            if wid.endswith(f"-{key}") or f"-{key}{EVENT_DELIM}" in wid:
                why = seen.pop(wid)
                return why
    return None


def notice(key: str, what: str) -> str | None:
    """The sentence a page shows when ``key``'s state was ignored, or None: what was wrong and
    what to do. ``what``: the widget in words ("the unit panel")."""
    why = rejected(key)
    if why is None:
        return None
    return (f"What your browser sent for {what} could not be read ({why}), so it was ignored. "
            f"Pick again; if this keeps happening, reload the page.")
