"""Streamlit entry point: ``streamlit run app.py``."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from model.checkpoint import DEFAULT_CHECKPOINT, CheckpointError, load_checkpoint
from model.data import load_samples, to_float

st.set_page_config(page_title="CNN lens: inside an MNIST network", layout="wide")


@st.cache_resource
def shared_model():
    return load_checkpoint(DEFAULT_CHECKPOINT)


@st.cache_data
def samples():
    return load_samples()


st.title("Inside a convolutional network")
try:
    model, card = shared_model()
except CheckpointError as exc:
    st.error(f"The default model could not be loaded: {exc}")
    st.stop()
images, labels = samples()
i = st.slider("Sample digit", 0, len(labels) - 1, 0)
with torch.no_grad():
    probs = torch.softmax(model(to_float(torch.from_numpy(images[i:i + 1]))), 1)[0].numpy()
left, right = st.columns(2)
left.image(images[i], caption=f"label {labels[i]}", width=280)
right.metric("Prediction", int(np.argmax(probs)), f"{100 * probs.max():.1f}% sure")
right.bar_chart(probs)
