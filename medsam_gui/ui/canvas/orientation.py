"""Patient-direction letters for the edges of a slice view of any plane (numpy only).

The app's volumes come in canonical display orientation, but a file may be oblique
or flipped: the letters are computed from ``Volume.direction`` so they always tell
the truth. Directions follow LPS: +x = Left, +y = Posterior, +z = Superior.
"""

from __future__ import annotations

import numpy as np

_POSITIVE = ("L", "P", "S")
_NEGATIVE = ("R", "A", "I")


def direction_letter(vector_lps) -> str:
    """The patient direction a vector points to most: one of L R P A S I."""
    vector = np.asarray(vector_lps, dtype=np.float64)
    axis = int(np.argmax(np.abs(vector)))
    return _POSITIVE[axis] if vector[axis] >= 0 else _NEGATIVE[axis]


def edge_letters(direction: np.ndarray) -> dict[str, str]:
    """Letters for the view edges 'left', 'right', 'top', 'bottom'.

    Args:
        direction: 3x3, column i = LPS unit vector of index axis i (x, y, z). Screen
            right is +x (columns), screen down is +y (rows).
    """
    direction = np.asarray(direction, dtype=np.float64).reshape(3, 3)
    column_direction = direction[:, 0]
    row_direction = direction[:, 1]
    return {
        "right": direction_letter(column_direction),
        "left": direction_letter(-column_direction),
        "bottom": direction_letter(row_direction),
        "top": direction_letter(-row_direction),
    }


def screen_edge_letters(right_lps, down_lps) -> dict[str, str]:
    """Letters for the view edges, given the LPS vectors of screen right and screen down."""
    right = np.asarray(right_lps, dtype=np.float64)
    down = np.asarray(down_lps, dtype=np.float64)
    return {
        "right": direction_letter(right),
        "left": direction_letter(-right),
        "bottom": direction_letter(down),
        "top": direction_letter(-down),
    }


def plane_edge_letters(geometry) -> dict[str, str]:
    """Letters for the edges of a view of ``geometry`` (a ``core.planes.PlaneGeometry``):
    from its direction matrix, so an oblique or flipped scan shows the truth."""
    return screen_edge_letters(*geometry.screen_directions_lps())
