"""A minimal Streamlit client: speaks the app's own websocket protocol, no browser.

It does what the browser's client does on ``/_stcore/stream``: sends a ``rerun_script`` BackMsg
with the link's query string, reads ForwardMsgs until ``script_finished``, keeps every widget's
current value from the deltas it received (as the browser's widget manager does), and to change a
widget resends the full widget states with the new value, scoped to the widget's fragment when it
lives in one (``st.fragment`` reruns only that part, as in the browser).

Used by the classroom benchmark (``bench/classroom_load.py``) and its smoke test.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

# ForwardMsg.script_finished statuses that end a request.
FINISHED_OK = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}
FINISHED_BAD = {ForwardMsg.FINISHED_WITH_COMPILE_ERROR}


@dataclass
class Widget:
    """One widget as the browser knows it: its kind, label, fragment and current value."""

    id: str
    kind: str  # the element type: "selectbox", "radio", "plotly_chart", ...
    label: str
    fragment_id: str
    options: list[str]
    state: WidgetState | None  # None: the browser has not reported a value for it


@dataclass
class Reply:
    """What one request (a script run) brought back."""

    seconds: float = 0.0
    finished: bool = False
    status: str = ""
    messages: int = 0
    bytes: int = 0
    references: int = 0  # large elements the server did not resend (the client had them)
    errors: list[str] = field(default_factory=list)  # exceptions and st.error alerts
    warnings: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # markdown bodies (to check what ran)


def _options(element) -> list[str]:
    kind = element.WhichOneof("type")
    proto = getattr(element, kind)
    if kind == "button_group":
        return [o.content for o in proto.options]
    if kind in ("selectbox", "radio", "multiselect"):
        return list(proto.options)
    return []


def widget_state(element) -> WidgetState | None:
    """The value the browser would report for a freshly drawn widget (None: none reported)."""
    kind = element.WhichOneof("type")
    proto = getattr(element, kind)
    ws = WidgetState(id=proto.id)
    if kind in ("selectbox", "radio"):
        if proto.set_value and proto.HasField("raw_value"):
            ws.string_value = proto.raw_value
        elif proto.HasField("default") and proto.default < len(proto.options):
            ws.string_value = proto.options[proto.default]
        else:
            return None
    elif kind == "checkbox":
        ws.bool_value = proto.value if proto.set_value else proto.default
    elif kind == "slider":
        ws.double_array_value.data.extend(proto.value if proto.set_value else proto.default)
    elif kind == "number_input":
        value = proto.value if proto.set_value else proto.default
        if proto.data_type == proto.INT:
            ws.int_value = int(value)
        else:
            ws.double_value = value
    elif kind == "button_group":
        if proto.set_value:
            ws.string_array_value.data.extend(proto.raw_values)
        else:
            ws.string_array_value.data.extend(proto.options[i].content for i in proto.default)
    else:  # buttons, uploaders, chart selections: nothing until the user acts
        return None
    return ws


class Session:
    """One browser tab: a websocket to the app and the widget values it holds."""

    def __init__(self, port: int, query: str, request_timeout: float = 60.0) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"port {port} is not a TCP port")
        self.port = port
        self.query = query.lstrip("?")
        self.request_timeout = request_timeout
        self.widgets: dict[str, Widget] = {}
        self.page_script_hash = ""
        self.ws = None
        self.cache: dict[str, ForwardMsg] = {}  # hash -> cacheable message, as the browser's
        self.auto_reruns: dict[str, float] = {}  # fragment id -> seconds (st.fragment(run_every))
        self.pages: dict[str, str] = {}  # URL path ("" for the default page) -> page script hash

    # -- connection --------------------------------------------------------------------------

    async def connect(self) -> None:
        # Loopback only: the benchmark never talks to another machine.
        url = f"ws://127.0.0.1:{self.port}/_stcore/stream"
        self.ws = await websockets.connect(url, subprotocols=["streamlit"], max_size=None,
                                           open_timeout=self.request_timeout)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    # -- requests ----------------------------------------------------------------------------

    def _client_state(self, fragment_id: str = "") -> ClientState:
        cs = ClientState(query_string=self.query, page_script_hash=self.page_script_hash,
                         page_name="", fragment_id=fragment_id)
        cs.context_info.timezone = "UTC"
        cs.context_info.locale = "en-US"
        cs.context_info.url = f"http://127.0.0.1:{self.port}/" + (f"?{self.query}"
                                                                  if self.query else "")
        for w in self.widgets.values():
            if w.state is not None:
                cs.widget_states.widgets.append(w.state)
        cs.cached_message_hashes.extend(self.cache)
        return cs

    async def open(self) -> Reply:
        """Connect and run the page for the link (as a browser loading it)."""
        t0 = time.perf_counter()
        await self.connect()
        reply = await self._rerun(self._client_state(), t0)
        return reply

    async def set(self, widget: Widget, state: WidgetState) -> Reply:
        """Change one widget and rerun (its fragment only, when it lives in one)."""
        widget.state = state
        t0 = time.perf_counter()
        return await self._rerun(self._client_state(widget.fragment_id), t0)

    async def tick(self, fragment_id: str) -> Reply:
        """What the browser's timer does for ``st.fragment(run_every=...)``: rerun the fragment
        (an auto rerun)."""
        cs = self._client_state(fragment_id)
        cs.is_auto_rerun = True
        return await self._rerun(cs, time.perf_counter())

    async def _rerun(self, client_state: ClientState, t0: float) -> Reply:
        msg = BackMsg()
        msg.rerun_script.CopyFrom(client_state)
        await self.ws.send(msg.SerializeToString())
        reply = Reply()
        run_full = not client_state.fragment_id
        if run_full:  # a full run announces the page's timed fragments again
            self.auto_reruns = {}
        seen: dict[str, Widget] = {}
        fragments = {client_state.fragment_id} if client_state.fragment_id else set()
        try:
            await asyncio.wait_for(self._read_run(reply, seen, fragments), self.request_timeout)
        except asyncio.TimeoutError:
            reply.errors.append(f"no script_finished within {self.request_timeout:.0f} s")
        reply.seconds = time.perf_counter() - t0
        # Forget the widgets the run did not draw again, as the browser does (a fragment run
        # only redraws its own fragments).
        if run_full:
            self.widgets = seen
        elif reply.finished:
            for wid, w in list(self.widgets.items()):
                if w.fragment_id in fragments and wid not in seen:
                    del self.widgets[wid]
            self.widgets.update(seen)
        return reply

    async def _read_run(self, reply: Reply, seen: dict[str, Widget], fragments: set[str]) -> None:
        while True:
            data = await self.ws.recv()
            reply.messages += 1
            reply.bytes += len(data)
            fm = ForwardMsg()
            fm.ParseFromString(data)
            kind = fm.WhichOneof("type")
            if kind == "ref_hash":
                if fm.ref_hash not in self.cache:
                    reply.errors.append(f"reference to an unknown message {fm.ref_hash}")
                    continue
                reply.references += 1
                fm = self.cache[fm.ref_hash]
                kind = fm.WhichOneof("type")
            elif fm.metadata.cacheable and fm.hash:
                self.cache[fm.hash] = fm
            if kind == "new_session":
                if fm.new_session.page_script_hash:
                    self.page_script_hash = fm.new_session.page_script_hash
            elif kind == "navigation":
                self.pages.update({p.url_pathname: p.page_script_hash
                                   for p in fm.navigation.app_pages})
                if fm.navigation.page_script_hash:
                    self.page_script_hash = fm.navigation.page_script_hash
            elif kind == "auto_rerun":  # the browser reruns this fragment on a timer
                self.auto_reruns[fm.auto_rerun.fragment_id] = fm.auto_rerun.interval
            elif kind == "page_info_changed":
                self.query = fm.page_info_changed.query_string
            elif kind == "delta":
                self._delta(fm.delta, reply, seen, fragments)
            elif kind == "script_finished":
                status = fm.script_finished
                reply.status = ForwardMsg.ScriptFinishedStatus.Name(status)
                if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue  # a rerun replaced this run; wait for that one
                reply.finished = status in FINISHED_OK
                if status in FINISHED_BAD:
                    reply.errors.append(f"script finished with {reply.status}")
                return

    def _delta(self, delta, reply: Reply, seen: dict[str, Widget], fragments: set[str]) -> None:
        if delta.fragment_id:
            fragments.add(delta.fragment_id)
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind == "exception":
            ex = element.exception
            reply.errors.append(f"exception {ex.type}: {ex.message}")
        elif kind == "alert":
            if element.alert.format == Alert.ERROR:
                reply.errors.append(f"error shown: {element.alert.body}")
            elif element.alert.format == Alert.WARNING:
                reply.warnings.append(element.alert.body)
        elif kind == "markdown":
            reply.texts.append(element.markdown.body)
        proto = getattr(element, kind, None) if kind else None
        wid = getattr(proto, "id", "") if proto is not None else ""
        if wid and kind not in ("exception",) and (kind != "plotly_chart"
                                                    or len(proto.selection_mode)):
            # Like the browser: a widget drawn again keeps the value it holds, unless the
            # script set a new one (set_value); a new widget starts at its default.
            old = self.widgets.get(wid)
            if old is not None and old.state is not None and not getattr(proto, "set_value",
                                                                           False):
                state = old.state
            else:
                state = widget_state(element)
            # a component has no label: it is found by its name
            label = proto.component_name if kind == "bidi_component" else getattr(proto, "label",
                                                                                 "")
            seen[wid] = Widget(wid, kind, label, delta.fragment_id, _options(element), state)

    # -- finding widgets ---------------------------------------------------------------------

    def widget(self, kind: str, label: str | None = None) -> Widget:
        """The drawn widget of this kind (and label); ValueError when there is none."""
        found = [w for w in self.widgets.values()
                 if w.kind == kind and (label is None or w.label == label)]
        if not found:
            have = ", ".join(f"{w.kind} '{w.label}'" for w in self.widgets.values())
            raise ValueError(f"no {kind} widget labelled {label!r} on the page (have: {have})")
        return found[0]


def choose(widget: Widget, option: str) -> WidgetState:
    """The state of a selectbox or radio set to ``option`` (one of its option labels)."""
    if option not in widget.options:
        raise ValueError(f"{option!r} is not an option of {widget.label!r}: {widget.options}")
    return WidgetState(id=widget.id, string_value=option)


def segment(widget: Widget, option: str) -> WidgetState:
    """The state of a segmented control set to ``option``."""
    if option not in widget.options:
        raise ValueError(f"{option!r} is not an option of {widget.label!r}: {widget.options}")
    ws = WidgetState(id=widget.id)
    ws.string_array_value.data.append(option)
    return ws


def component_state(widget: Widget, values: dict) -> WidgetState:
    """The state a custom component (``st.components.v2``) reports after it sets ``values``
    (e.g. ``{"unit": {...}}``: its ``on_unit_change`` callback runs)."""
    if widget.kind != "bidi_component":
        raise ValueError(f"{widget.label!r} is a {widget.kind}, not a component")
    return WidgetState(id=widget.id, json_value=json.dumps(values))
