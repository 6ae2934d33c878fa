"""Step 3: epochs, the model's own training record."""

from __future__ import annotations

import streamlit as st

from ui import cache, common
from ui.tour.helpers import train_link
from ui.tour.registry import tour_step
from viz.pictures import tourfigs
from viz.teaching import concepts


@tour_step('epochs', 'Epochs', needs_input=False,
      text=('An epoch is one pass over every training image. Each step looks at a small '
            'batch, measures the error (the loss) and nudges every weight to reduce it. '
            'Accuracy on images held out from training shows whether the network learns '
            'or only memorises.'),
      visual=("Loss and validation accuracy per epoch, from the model's own training "
              'record.'))
def show_epochs(ctx, layers, acts) -> None:
    _, _, card = cache.model_facts(ctx.key)
    series = concepts.history_series(card)
    if card.get("untrained"):
        st.info(f"This {ctx.arch} network is untrained: its weights are random and it has seen "
                f"zero epochs, so there is no loss curve yet.")
        train_link()
        return
    if series is None:
        st.info("This checkpoint carries no training record (no per-epoch loss or accuracy).")
        train_link()
        return
    common.plot(tourfigs.history(series, height=340), key="tour.epochs.fig")
    n = len(series["epoch"])
    acc = [a for a in series["val_accuracy"] if a == a]
    m = st.columns(3)
    m[0].metric("Epochs", n)
    m[1].metric("Final loss", f"{series['loss'][-1]:.3f}",
                delta=f"{series['loss'][-1] - series['loss'][0]:.3f} since epoch 1",
                delta_color="inverse")
    if acc:
        m[2].metric("Best validation accuracy", f"{max(acc):.2%}")
    st.caption("Each point is one pass over the training images. The loss is measured on the "
               "training batches, the accuracy on images held out from training.")
    recipe = card.get("recipe")
    if isinstance(recipe, dict) and not common.presenting():
        with st.expander("How it was trained (the recipe)"):
            st.json(recipe, expanded=False)
