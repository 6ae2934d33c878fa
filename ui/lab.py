"""Page under construction."""

import streamlit as st


def page() -> None:
    st.title("lab")


if __name__ == "__main__":
    page()
