"""Page under construction."""

import streamlit as st


def page() -> None:
    st.title("tour")


if __name__ == "__main__":
    page()
