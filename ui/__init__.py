"""The Streamlit pages and what they share (layout only; logic lives in viz/ and model/)."""
