"""One budget per uploaded network file: every tensor a reader makes is charged before it is
made, so a small hostile file cannot make the server allocate much.

A reader (ONNX, Keras) knows each tensor's size from shapes before it computes or reads it (an
initializer's declared dims, a folded op's output shape, an HDF5 dataset's shape and chunks) and
calls :meth:`Budget.charge` first. The limits are the checkpoints' (``viz.network.card``): a
network may hold :data:`viz.limits.NETWORK_PARAMS` parameters, and a file twice that many
numbers in all (BatchNorm statistics, shape arithmetic, values folded away).
"""

from __future__ import annotations

from viz.limits import FILE_VALUES, TENSOR_DIMS
from viz.network import card as card_reader

MAX_VALUES = FILE_VALUES  # the names the readers import
MAX_DIMS = TENSOR_DIMS


class Budget:
    """Numbers and bytes a reader may still make from one file.

    Args:
        source: the file's name, which starts every message.
        max_values: numbers allowed in all (default :data:`MAX_VALUES`).
    """

    def __init__(self, source: str, max_values: int = MAX_VALUES) -> None:
        self.source = source
        self.max_values = max_values
        self.used = 0

    @property
    def left(self) -> int:
        """Numbers still allowed."""
        return self.max_values - self.used

    def charge(self, count: int, what: str) -> None:
        """Charge ``count`` numbers for ``what`` (e.g. ``"initializer 'w'"``) before they are
        made; raises :class:`viz.network.card.CardError` naming it when over the budget.

        Args:
            count: numbers in the tensor about to be made (from its shape).
            what: the tensor, as the message should name it.
        """
        if count < 0:
            raise card_reader.CardError(f"{self.source}: {what} declares a negative size.")
        self.used += count
        if self.used > self.max_values:
            raise card_reader.CardError(
                f"{self.source}: {what} holds {count:,} numbers; with the others that is "
                f"more than {self.max_values:,} numbers, the most this server makes from one "
                f"file; "
                f"{card_reader.LIMITS}. Export the trained network alone (no large constants "
                f"or shape arithmetic over big tensors).")


def shape_size(shape: tuple[int, ...] | list[int], source: str, what: str) -> int:
    """The number of values of ``shape``, refused when a dimension is negative or the rank
    is over :data:`MAX_DIMS` (Python ints: no overflow).

    Args:
        shape: the dimensions.
        source: the file's name.
        what: the tensor, as a message names it.
    Returns:
        The product of the dimensions.
    """
    dims = [int(d) for d in shape]
    if len(dims) > MAX_DIMS or any(d < 0 for d in dims):
        raise card_reader.CardError(f"{source}: {what} has the shape "
                                    f"{card_reader.show(dims)}; up to {MAX_DIMS} "
                                    f"non-negative dimensions are read.")
    n = 1
    for d in dims:
        n *= d
    return n


__all__ = ["Budget", "MAX_DIMS", "MAX_VALUES", "shape_size"]
