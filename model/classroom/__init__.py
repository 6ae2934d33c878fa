"""The class a teacher leads: its store, its rules and who is who (Streamlit-free)."""
