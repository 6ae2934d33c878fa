"""Page under construction."""

import streamlit as st


def page() -> None:
    st.title("lab")
