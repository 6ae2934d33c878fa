"""The PyTorch state-dict reader (``.pt``, ``.pth``): ``torch.save(model.state_dict(), path)``
turned into an :class:`model.files.imported.ImportedNetwork`, without torch and without running
the file's pickle (:mod:`model.files.torch_reader.statedict`).

A state dict holds weights, not the network. Its tensors' shapes, in order, are matched against
the zoo (:mod:`model.files.torch_reader.match`): the PyTorch examples' ``mnist_cnn.pt`` is
``pytorch-example``, a LeNet-5's is ``lenet5``. When several networks fit the shapes (a ReLU and a
tanh variant, max or average pooling), the one whose probabilities give the true digits of the
shipped samples the best likelihood (mean log-probability, under its likeliest input scaling)
is chosen, and the ones tried are named. When none fits, the student names an architecture
(``--architecture NAME``, or the app's picker) or gives the layer table in the lab's format
(``--layers TABLE.csv``), and the message lists each missing, extra or mis-shaped tensor.

A whole pickled model (``torch.save(model, path)``) is refused naming its class, with the lines
that save a state dict or export ONNX instead: loading it would run the student's code.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from model.files.imported import ImportedNetwork, scores
from model.files.torch_reader import match
from model.files.torch_reader.match import Candidate
from model.files.torch_reader.statedict import read_state_dict
from model.files.torch_reader.unpickle import ADVICE, ONNX_LINE, SAVE_LINE
from viz.limits import TORCH_FILE_BYTES
from viz.network.card import CardError
from viz.network.layers import LayerRecord

FORMAT = "pytorch"
EXTENSIONS = (".pt", ".pth")
MAX_FILE_BYTES = TORCH_FILE_BYTES
Architecture = str | list[LayerRecord] | None  # a zoo name, a layer table's records, or found


class ArchitectureNeeded(CardError):
    """No zoo network fits the tensors: the student names one or gives the layer table.
    ``nearest``: the zoo architecture agreeing with the most leading shapes, or None."""

    def __init__(self, message: str, nearest: str | None = None) -> None:
        super().__init__(message)
        self.nearest = nearest


def _network(c: Candidate, tensors: dict[str, np.ndarray],
             have: list[tuple[str, tuple[int, ...]]], source: str, notes: list[str]
             ) -> ImportedNetwork:
    """The candidate's network with the state dict's tensors, taken in order."""
    named = {want: np.asarray(tensors[key], dtype=np.float32)
             for (want, _), (key, _) in zip(match.weights(c.layers), have)}
    return ImportedNetwork([dict(r) for r in c.layers], named, "NCHW", source, FORMAT,
                           notes=list(notes), architecture=c.name)


def _unmatched(have: list[tuple[str, tuple[int, ...]]], source: str) -> ArchitectureNeeded:
    near = match.nearest(have)
    shown = ", ".join(f"{k} {s}" for k, s in have[:4]) + (" ..." if len(have) > 4 else "")
    why = ""
    if near is not None:
        why = f" (nearest: {near}: {match.differences(Candidate(near, _zoo(near)), have)})"
    return ArchitectureNeeded(
        f"{source}: a state dict holds weights, not the network, and its {len(have)} tensors "
        f"({shown}) fit no network of the zoo{why}. Name its architecture (--architecture NAME) "
        f"or give its layer table (--layers TABLE.csv, the lab's format); or export the network "
        f"itself: {ONNX_LINE}.", near)


def _zoo(name: str) -> list[LayerRecord]:
    from model.architectures import ARCHITECTURES
    return ARCHITECTURES[name].layers()


def likeliest(nets: list[ImportedNetwork], samples: tuple[np.ndarray, np.ndarray] | None
              ) -> tuple[ImportedNetwork, dict[str, float]]:
    """Of networks fitting the same tensors, the one whose likelihood on the samples (the mean
    log-probability of the true digit, under its likeliest input scaling) is best; and each
    one's likelihood."""
    if samples is None:
        from model.store import load_samples
        samples = load_samples()
    like = {}
    for net in nets:
        found = scores(net, *samples)
        like[net.architecture] = max(v[1] for v in found.values())
    best = max(nets, key=lambda n: like[n.architecture])  # first (the zoo's own) wins ties
    return best, like


def read(data: bytes, source: str = "net.pt", max_bytes: int = MAX_FILE_BYTES,
         architecture: Architecture = None,
         samples: tuple[np.ndarray, np.ndarray] | None = None) -> ImportedNetwork:
    """The network of a state dict's bytes (see the module docstring).

    Args:
        data: the file's bytes.
        source: its name, for messages.
        max_bytes: the largest file read.
        architecture: a zoo architecture's name, a layer table's records, or None to find it.
        samples: (uint8 images, labels) to choose among fitting networks (the shipped ones).
    Raises:
        CardError: the file refused (one line); ArchitectureNeeded when no zoo network fits.
    """
    tensors, notes = read_state_dict(data, source, max_bytes)
    have = match.given(tensors)
    if not have:
        raise CardError(f"{source}: a state dict without tensors; {ADVICE}")
    if isinstance(architecture, list):
        fit = match.tabled(architecture, have, source)
    elif architecture:
        fit = match.named(architecture, have, source)
    else:
        fit = match.matching(have)
        if not fit:
            raise _unmatched(have, source)
    nets = [_network(c, tensors, have, source, notes) for c in fit]
    best = nets[0]
    tried = [n.architecture for n in nets]
    if len(nets) > 1:
        best, like = likeliest(nets, samples)
        best.tried_likelihood = {k: round(v, 4) for k, v in like.items()}
        best.notes.append("matched by its tensors' shapes to " + ", ".join(
            f"{n} (likelihood {v:.3f})" for n, v in like.items())
            + f"; {best.architecture} is the likeliest on the shipped samples")
    else:
        best.notes.append(f"matched by its tensors' shapes to {best.architecture}")
    best.tried = tried
    return best


def read_statedict(files: Mapping[str, bytes], name: str, max_bytes: int = MAX_FILE_BYTES,
                   architecture: Architecture = None) -> ImportedNetwork:
    """The importer's reader (``model/importer.py`` READERS): ``files[name]`` is the ``.pt`` /
    ``.pth`` file; ``architecture`` as in :func:`read`."""
    return read(files[name], name, max_bytes, architecture)


__all__ = ["ADVICE", "EXTENSIONS", "FORMAT", "MAX_FILE_BYTES", "ONNX_LINE", "SAVE_LINE",
           "ArchitectureNeeded", "likeliest", "read", "read_statedict"]
