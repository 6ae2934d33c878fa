"""How a student saves a network in a file this app reads: one line of the framework's own
code each, shown under the sidebar's upload box.

The readers themselves are :data:`model.importer.READERS` (one per extension); each extension
there is written by at least one line here. This module imports nothing, so the sidebar shows
the lines without loading a reader.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SaveLine:
    """One way to save: ``framework`` (as a student names it), ``code`` (the line, after
    training, with ``model`` the trained network) and ``writes`` (the extensions the line may
    write, the one in ``code`` first)."""

    framework: str
    code: str
    writes: tuple[str, ...]


SAVE_LINES: tuple[SaveLine, ...] = (
    SaveLine("PyTorch", 'torch.onnx.export(model, torch.zeros(1, 1, 28, 28), "net.onnx")',
             (".onnx",)),
    SaveLine("PyTorch", 'torch.save(model.state_dict(), "net.pt")', (".pt", ".pth")),
    SaveLine("Keras", 'model.save("net.keras")', (".keras", ".h5", ".hdf5")),
    SaveLine("TensorFlow", 'model.export("net.onnx", format="onnx")', (".onnx",)),
)


def by_framework(lines: tuple[SaveLine, ...] = SAVE_LINES) -> dict[str, list[SaveLine]]:
    """The lines grouped by framework, in their order."""
    out: dict[str, list[SaveLine]] = {}
    for line in lines:
        out.setdefault(line.framework, []).append(line)
    return out


__all__ = ["SAVE_LINES", "SaveLine", "by_framework"]
