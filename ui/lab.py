"""The architecture lab: edit a network as a table, see its fields and costs at once, compare it.

All numbers come from ``viz.teaching.lab`` (arithmetic on layer records: nothing is built or run, so every
edit answers at once). "Train this" hands the table's layers to the train page's background job.
Session-state keys: ``lab.*``.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from model.architectures import ARCHITECTURES, DEFAULT
from ui import cache, common, lab_compare, state
from ui.common import context, plot, presenting
from viz.inputs import urlstate
from viz.limits import LAB_CELL, LAB_EDIT_ROWS, LAB_INPUTS_CHARS, LAB_TEXT_CELL_CHARS
from viz.network.layertypes import SHAPE_KEEPERS
from viz.pictures import figures
from viz.teaching import joins
from viz.teaching.lab import (
    COLUMNS,
    ROW_TYPES,
    TEXT_COLUMNS,
    LabReport,
    area,
    cell,
    check,
    growth,
    layers_to_rows,
    millions,
    report_csv,
    table_rows,
    table_rows_to_rows,
    weight_layers,
)
from viz.teaching.lab_fix import explain_break

SIDEBAR = "(sidebar model)"  # the "Start from" option for the sidebar's current network
HIDDEN_TYPES = SHAPE_KEEPERS  # BatchNorm, activations, dropout: they never change the field


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

def start_layers(start: str) -> list[dict[str, Any]]:
    """The layer records of a "Start from" choice (a zoo name or the sidebar's model)."""
    if start == SIDEBAR:
        return cache.layer_records(context().key)
    return ARCHITECTURES[start].layers()


def start_label(start: str, arch: str) -> str:
    """A "Start from" option as shown; ``arch``: the sidebar model's architecture."""
    return f"the sidebar's model ({arch})" if start == SIDEBAR else start


def _cell_problem(col: Any, value: Any) -> str | None:
    """None when ``value`` is something the table's column ``col`` can hold; else why not."""
    if col == "_index":  # the row number column (hide_index=False)
        return None if value is None or urlstate.whole(value) is not None else (
            f"row number {urlstate.shown(value)} is not a whole number")
    value = cell(value)  # blanks (None, NaN, pd.NA) -> None, numpy numbers -> Python's
    if value is None:
        return None
    if col in TEXT_COLUMNS:
        if isinstance(value, str) and len(value) <= LAB_TEXT_CELL_CHARS:
            return None
        if col == "type":
            return f"the type {urlstate.shown(value)} is not one of {', '.join(ROW_TYPES)}"
        return (f"the {col} {urlstate.shown(value)} is not a text of at most "
                f"{LAB_TEXT_CELL_CHARS} characters")
    if col not in COLUMNS:
        return f"there is no column {urlstate.shown(col)}"
    number = value
    if (isinstance(number, bool) or not isinstance(number, (int, float))
            or not abs(number) <= LAB_CELL):  # (infinities fail this too)
        return (f"{col} {urlstate.shown(value)} is not a number from -{LAB_CELL:,} to "
                f"{LAB_CELL:,}")
    return None


def _row_problem(row: Any) -> str | None:
    if not isinstance(row, dict) or len(row) > len(COLUMNS) + 1:
        return f"a row {urlstate.shown(row)} is not a table row"
    return next((p for col, v in row.items() if (p := _cell_problem(col, v))), None)


def _edit_problem(state: Any, n_rows: int) -> str | None:
    """None when ``state`` is an edit the editor's table can send for ``n_rows`` rows; else what
    is wrong with it. Checked before Streamlit applies it: the state is the browser's to send
    (20,000 added rows or a string in a number column must not reach pandas or the lab)."""
    if state is None:
        return None
    if not isinstance(state, dict):
        return "the edits are not a table's"
    edited = state.get("edited_rows") or {}
    added = state.get("added_rows") or []
    deleted = state.get("deleted_rows") or []
    if not isinstance(edited, dict) or not isinstance(added, list) or not isinstance(deleted,
                                                                                     list):
        return "the edits are not a table's"
    if n_rows + len(added) > LAB_EDIT_ROWS or len(deleted) > n_rows or len(edited) > n_rows:
        return (f"{n_rows + len(added):,} rows is more than the lab's table holds "
                f"({LAB_EDIT_ROWS})")
    for key in list(edited) + deleted:
        if urlstate.whole(key if isinstance(key, int) else str(key), n_rows) is None:
            return f"row {urlstate.shown(key)} is not in the table"
    return next((p for row in list(edited.values()) + added if (p := _row_problem(row))), None)


def frame_rows(frame) -> list[dict[str, Any]]:
    """Lab rows from the editor's table (rows that are blank in every cell are skipped).

    Every cell is checked (a type name, or a number of at most ``LAB_CELL``; fractions are left
    for ``viz.teaching.lab.check`` to name): ValueError says what is wrong, and a table of more than
    ``LAB_EDIT_ROWS`` rows is refused before its cells are read."""
    if len(frame) > LAB_EDIT_ROWS:
        raise ValueError(f"{len(frame):,} rows is more than the lab's table holds "
                         f"({LAB_EDIT_ROWS})")
    records = frame.to_dict("records")
    problem = next((p for record in records if (p := _row_problem(record))), None)
    if problem:
        raise ValueError(problem)
    return table_rows_to_rows(records)


# ---------------------------------------------------------------------------------------------
# The editor
# ---------------------------------------------------------------------------------------------

def _frame(rows: list[dict[str, Any]]):
    import pandas as pd
    frame = pd.DataFrame([{col: row.get(col) for col in COLUMNS} for row in rows],
                         columns=list(COLUMNS))
    for col in COLUMNS:
        if col in TEXT_COLUMNS:
            frame[col] = frame[col].astype(object)
        else:
            frame[col] = pd.array([cell(v) for v in frame[col]], dtype="Int64")
    frame.index = pd.RangeIndex(1, len(frame) + 1)  # rows numbered as the messages number them
    return frame


def _bump() -> None:
    st.session_state["lab.version"] = st.session_state.get("lab.version", 0) + 1


def _table(base: list[dict[str, Any]], version: int, config: dict):
    """The editable table (its edits applied by Streamlit), keyed by ``version``."""
    return st.data_editor(_frame(base), key=f"lab.editor.{version}", num_rows="dynamic",
                          column_config=config, hide_index=False, width="stretch",
                          height=min(560, 38 + 35 * (len(base) + 1)),
                          placeholder="")  # a blank cell shows blank (the default), not "None"


def editor() -> tuple[str, list[dict[str, Any]]]:
    """"Start from", the editable table and Reset. Returns (start label, the table's rows)."""
    zoo = list(ARCHITECTURES)
    options = zoo + [SIDEBAR]
    state.remembered("lab.start", DEFAULT)
    if st.session_state["lab.start"] not in options:
        st.session_state["lab.start"] = DEFAULT
    arch = context().arch
    start = st.selectbox("Start from", options, key="lab.start",
                         format_func=lambda o: start_label(o, arch),
                         help=None if presenting() else
                         "A zoo architecture, or the network chosen in the sidebar. Changing it "
                         "replaces the table.")
    state.remember("lab.start")
    source = (start, context().key if start == SIDEBAR else None)
    version = st.session_state.setdefault("lab.version", 0)
    if st.session_state.get("lab.source") != source:
        # A new start: a fresh editor (a new key) on its layers.
        st.session_state["lab.source"] = source
        st.session_state["lab.base"] = layers_to_rows(start_layers(start))
        st.session_state["lab.working"] = None  # what "the change that broke it" is against
        version = st.session_state["lab.version"] = version + 1
    elif (f"lab.editor.{version}" not in st.session_state
          and st.session_state.get("lab.edited_for") == version):
        # Back from another page: Streamlit dropped the editor's edits; start from what it held.
        st.session_state["lab.base"] = st.session_state["lab.edited"]
        version = st.session_state["lab.version"] = version + 1
    base = st.session_state["lab.base"]
    unseen = [str(r.get("name") or r["type"]) for r in base  # options the table has no column for
              if r.get("count_include_pad") is False or r.get("negative_slope") not in (None, 0.01)]
    if unseen:
        st.warning(f"The table has no column for a leaky ReLU's slope or for average pooling "
                   f"without the padding: {', '.join(unseen)} take the defaults here (slope 0.01, "
                   f"padding counted), which can change the network.")
    help_on = not presenting()
    number = {
        "kernel": "Kernel size k (blank: 3 for conv, 2 for pooling).",
        "stride": "Stride s (blank: 1 for conv, the kernel for pooling).",
        "padding": "Padding: zeros added on each side (blank: 0).",
        "dilation": "Dilation d of a conv: its kernel spans d·(k−1)+1 pixels (blank: 1).",
        "channels": "Output channels of a conv, outputs of a linear layer (blank: 8 / 10).",
        "groups": "Groups of a conv: its input and output channels split into this many groups, "
                  "each output reading only its own group (blank: 1; depthwise: as many groups "
                  "as input channels).",
    }
    # Widths in pixels so every header is whole beside its edit icon (about 35 px), and the nine
    # columns fit a 1920 px window's half; "padding" reads "pad" (its tooltip says it whole).
    width = {"name": 70, "type": 75, "kernel": 72, "stride": 70, "padding": 60, "dilation": 82,
             "channels": 90, "groups": 76, "inputs": 72}
    label = {"padding": "pad"}
    config = {"name": st.column_config.TextColumn(
        "name", width=width["name"], max_chars=64,
        help="The layer's name, as the explorer and a saved checkpoint call it (blank: "
             "filled in, e.g. conv3)." if help_on else None),
              "type": st.column_config.SelectboxColumn(
        "type", options=list(ROW_TYPES), required=True, width=width["type"],
        help="Layer type. bn, the activations (relu, tanh, sigmoid, leakyrelu: its slope "
             "0.01) and dropout keep the shape; gap / gmp average / take the largest of each "
             "map; flatten turns maps into a vector for linear layers." if help_on else None)}
    for col, text in number.items():
        config[col] = st.column_config.NumberColumn(label.get(col, col), step=1, format="%d",
                                                    width=width[col],
                                                    help=text if help_on else None)
    config["inputs"] = st.column_config.TextColumn(  # a graph network's branches and joins
        "inputs", width=width["inputs"], max_chars=LAB_INPUTS_CHARS,
        help="The layers this one reads, by name, separated by commas (input: the image; blank: "
             "the row above). An add sums two or more layers of one shape, a concat stacks "
             "their channels; the field of a join is the largest of its branches, aligned."
        if help_on else None)
    problem = _edit_problem(st.session_state.get(f"lab.editor.{version}"), len(base))
    rows = None
    if problem is None:
        try:
            table = _table(base, version, config)
        except Exception as exc:  # noqa: BLE001 - the edits are the browser's: never a traceback
            problem = f"{type(exc).__name__}: {urlstate.plain(urlstate.cut(exc, 120))}"
        else:
            try:
                rows = frame_rows(table)
            except ValueError as exc:  # (its values are quoted as code)
                problem = str(exc)
    if rows is None:
        # Edits no table of this page could send: drop them for a fresh editor on the last
        # table that was read (the old editor is not drawn again, so Streamlit forgets it).
        good = st.session_state.get("lab.edited")
        if st.session_state.get("lab.edited_for") == version and good is not None:
            st.session_state["lab.base"] = base = good
        version = st.session_state["lab.version"] = version + 1
        st.error(f"The table's edits could not be read ({str(problem).rstrip('.')}); they were "
                 f"dropped and the table is back to how it was.")
        rows = frame_rows(_table(base, version, config))
    st.session_state["lab.edited"] = rows
    st.session_state["lab.edited_for"] = version
    # Below the table: the editor's toolbar (search, download, full screen) floats over
    # whatever sits just above its top right corner.
    c1, c2 = st.columns([3, 1], vertical_alignment="top")
    c2.button("Reset", key="lab.reset", on_click=_bump, width="stretch",
              help=None if presenting() else "Back to the start architecture's layers.")
    if help_on:
        c1.caption("Edit any cell; add a layer with the + row at the bottom, delete one by "
                   "ticking its row and pressing the bin. A blank cell takes its default; a "
                   "blank name, input channels and flatten sizes are filled in; a conv "
                   "followed by bn has no bias.")
    edits = rows != base
    name = start_label(start, arch)
    return (f"{name}, edited" if edits else name), rows


# ---------------------------------------------------------------------------------------------
# Results of the table
# ---------------------------------------------------------------------------------------------

def headline(report: LabReport, rows: int) -> None:
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Parameters", f"{report.params:,}")
    c2.metric("MACs per image", millions(report.macs),
              help=None if presenting() else
              f"{report.macs:,} multiply-accumulates for one 28x28 digit.")
    c3.metric("Final receptive field", area(report.final_rf()),
              help=None if presenting() else
              "Input pixels seen by one unit of the last layer that still has a map.")
    c4.metric("Layers", f"{weight_layers(report)}",
              help=None if presenting() else f"Conv and linear layers ({rows} rows in all).")


def results(name: str, report: LabReport) -> None:
    import pandas as pd
    every = st.toggle("Show every layer (bn, activations and dropout do not change the field)",
                      key="lab.every")
    shown = [r for r in table_rows(report) if every or r["type"] not in HIDDEN_TYPES]
    df = pd.DataFrame(shown)
    st.dataframe(df.style.format({"params": "{:,}", "MACs": "{:,}"}), hide_index=True,
                 height=min(420, 38 + 35 * len(shown)), key="lab.table")
    c1, c2 = st.columns([3, 1], vertical_alignment="center")
    if not presenting():
        c1.caption("Per layer: output channels x height x width, receptive field r, effective "
                   "stride S and effective padding P in input pixels (unit i sees pixels "
                   "i·S − P to i·S − P + r − 1; 'all': the whole image), parameters and MACs.")
    c2.download_button("⬇ CSV", report_csv(report), file_name="receptive-field.csv",
                       mime="text/csv", key="lab.csv", width="stretch",
                       help="The per-layer table with every layer, as CSV.")
    last = next((r.name for r in reversed(report.layers) if r.rf is not None), "")
    plot(figures.field_growth(growth(report), last), key="lab.growth")
    if not presenting():
        st.caption(f"How {name} sees more with depth: r after each conv and pooling layer. "
                   f"Pooling multiplies S, and every later kxk conv adds (k−1)·S pixels. The "
                   f"camera button (on hover) saves the figure as a PNG.")
    found = joins.joins(list(report.layers))  # the joins' fields, the engine's numbers
    if found:
        st.markdown("**Where branches join**: a join's field is the largest of its branches, "
                    "which must be aligned (the same stride, centred on the same pixel).")
        st.markdown("\n".join(f"- {joins.join_sentence(j)}" for j in found))


# ---------------------------------------------------------------------------------------------
# Train this
# ---------------------------------------------------------------------------------------------

def train_this(layers: list[dict[str, Any]] | None, report: LabReport | None) -> None:
    state.remembered("lab.epochs", 3)
    c1, c2 = st.columns([1, 1.4], vertical_alignment="bottom")
    epochs = c1.number_input("Epochs", 1, 50, key="lab.epochs",
                             help=None if presenting() else
                             "Passes over the 55,000 training digits.")
    state.remember("lab.epochs")
    from ui.train import mnist_missing
    missing = mnist_missing()
    est = refusal = None
    if report is not None and missing is None:  # the estimate here, or why it will not train
        est, refusal = common.training_estimate("this table", layers, int(epochs))
    clicked = c2.button("Train this", key="lab.train", type="primary",
                        icon=":material/model_training:", width="stretch",
                        disabled=report is None or refusal is not None or missing is not None,
                        help=None if presenting() else
                        "Train this table on the CPU in the background and watch it on the "
                        "Train page.")
    if missing:
        st.warning(missing, icon=":material/download:")
        return
    if report is None:
        st.caption("Fix the table to train it.")
        return
    if refusal:
        st.warning(refusal)
        return
    st.caption(f"Training it for {int(epochs)} epoch(s) takes {est.text()}.")
    if clicked:
        from model.train import TrainConfig
        cfg = TrainConfig(arch="lab", layers=layers, epochs=int(epochs))
        if common.start_training(cfg):
            st.switch_page(common.PAGES["train"])


# ---------------------------------------------------------------------------------------------
# Page
# ---------------------------------------------------------------------------------------------

def page() -> None:
    st.title("Architecture lab")
    if not presenting():
        st.caption("Edit a network as a table and see at once how far each layer sees, what it "
                   "costs, and whether it works at all.")
    top = st.container()  # the headline numbers, full width so they never truncate
    left, right = st.columns([1.15, 1], gap="medium")
    layers = report = None
    with left:
        name, rows = editor()
    with right:
        try:
            layers, report = check(rows)
        except ValueError as exc:
            # the layer that breaks (with its row), the edit since the last table that worked,
            # and a change that fixes it when trying finds one
            good = st.session_state.get("lab.working") or st.session_state.get("lab.base")
            st.error(f"This network does not work: {explain_break(good or [], rows, str(exc))}.")
        except Exception as exc:  # noqa: BLE001 - never a traceback in front of a class
            st.error(f"This table could not be analysed ({type(exc).__name__}: {exc}). Check "
                     f"its numbers; Reset brings the start architecture back.")
        else:
            st.session_state["lab.working"] = rows
        if report is not None:
            with top:
                headline(report, len(report.layers))
            common.guard("The results", lambda: results(name, report))
    with left:
        common.guard("Train this", lambda: train_this(layers, report))
    st.divider()
    common.guard("The comparison", lambda: lab_compare.compare(report))

