"""Keys that explain a drawn map: class legends, colour bars, the normals disk.

Every key is an (H, W, 3) uint8 RGB panel on white, ``height`` pixels high
(the height of the tiles it explains); its width follows its content, so no
name or number is cut.
"""
from typing import Callable, Sequence, Tuple

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
BACKGROUND = 255
TEXT_COLOR = (0, 0, 0)
MARGIN = 4


def font_scale(height: int) -> float:
    """OpenCV font scale of captions and keys of tiles ``height`` pixels high.

    Letters are at least ~9 pixels high (scale 0.4) so that a picture shown
    at its own size stays readable, and grow with the tiles up to scale 0.7.
    """
    return float(np.clip(height / 400, 0.4, 0.7))


def text_size(text: str, scale: float) -> Tuple[int, int]:
    """(width, height above the baseline) of ``text`` in pixels."""
    (width, height), _ = cv2.getTextSize(text, FONT, scale, 1)
    return width, height


def put_text(canvas: np.ndarray, text: str, origin: Tuple[int, int], scale: float,
             color: Tuple[int, int, int] = TEXT_COLOR) -> None:
    """Write ``text`` with its baseline starting at ``origin`` = (x, y), in place."""
    cv2.putText(canvas, text, origin, FONT, scale, color, 1, cv2.LINE_AA)


def _panel(height: int, width: int) -> np.ndarray:
    return np.full((height, width, 3), BACKGROUND, np.uint8)


def _line_height(scale: float) -> int:
    return int(round(text_size('Ag', scale)[1] * 1.8))


def _with_title(body: np.ndarray, title: str, scale: float) -> np.ndarray:
    """``title`` written in the top line of ``body`` (widened if the title is wider)."""
    width = max(body.shape[1], text_size(title, scale)[0] + 2 * MARGIN)
    panel = _panel(body.shape[0], width)
    panel[:, :body.shape[1]] = body
    put_text(panel, title, (MARGIN, MARGIN + text_size(title, scale)[1]), scale)
    return panel


def legend(entries: Sequence[Tuple[str, Sequence[int]]], height: int, title: str) -> np.ndarray:
    """A colour swatch and a name per entry, in as many columns as ``height`` needs.

    Args:
        entries: ``(name, (r, g, b))`` in drawing order.
        height: Panel height in pixels.
        title: Top line (e.g. the task name).
    """
    scale = font_scale(height)
    line = _line_height(scale)
    text_h = text_size('Ag', scale)[1]
    top = MARGIN + line
    per_column = max(1, (height - top - MARGIN) // line)
    columns = [entries[i:i + per_column] for i in range(0, len(entries), per_column)]
    swatch = text_h + 2
    widths = [swatch + MARGIN + max(text_size(name, scale)[0] for name, _ in column)
              for column in columns]
    panel = _panel(height, MARGIN + sum(w + 2 * MARGIN for w in widths))
    x = MARGIN
    for column, width in zip(columns, widths):
        for row, (name, color) in enumerate(column):
            y = top + row * line
            cv2.rectangle(panel, (x, y), (x + swatch - 1, y + swatch - 1),
                          tuple(int(c) for c in color), thickness=-1)
            put_text(panel, name, (x + swatch + MARGIN, y + swatch - 2), scale)
        x += width + 2 * MARGIN
    return _with_title(panel, title, scale)


def colorbar(colorize: Callable[[np.ndarray], np.ndarray], value_range: Tuple[float, float],
             height: int, title: str, unit: str = '', num_ticks: int = 3) -> np.ndarray:
    """A vertical colour bar (high values on top) with ``num_ticks`` labelled values.

    Args:
        colorize: (h, w) values -> (h, w, 3) RGB, the colour map of the tiles.
        value_range: (low, high) of the colour map.
        height: Panel height in pixels.
        title: Top line, e.g. ``'depth [m]'``.
        unit: Written after each tick value, e.g. ``'m'``.
        num_ticks: Labelled values from low to high.
    """
    scale = font_scale(height)
    line = _line_height(scale)
    text_h = text_size('0', scale)[1]
    top = min(MARGIN + line + text_h // 2, height - 2)  # tiny tiles: the bar still fits
    bar_h = max(height - MARGIN - text_h // 2 - top, 2)
    bar_h = min(bar_h, height - top)
    bar_w = max(8, text_h + 2)
    low, high = value_range
    ticks = np.linspace(low, high, num_ticks)
    labels = [f'{value:.3g}' + (f' {unit}' if unit else '') for value in ticks]
    label_w = max(text_size(label, scale)[0] for label in labels)
    panel = _panel(height, MARGIN + bar_w + 2 * MARGIN + label_w + MARGIN)
    values = np.linspace(high, low, bar_h, dtype=np.float32)[:, None].repeat(bar_w, axis=1)
    panel[top:top + bar_h, MARGIN:MARGIN + bar_w] = colorize(values)
    for value, label in zip(ticks, labels):
        fraction = (high - value) / (high - low) if high > low else 0.
        y = top + int(round(fraction * (bar_h - 1)))
        cv2.line(panel, (MARGIN + bar_w, y), (MARGIN + bar_w + MARGIN, y), TEXT_COLOR, 1)
        put_text(panel, label, (MARGIN + bar_w + 2 * MARGIN, y + text_h // 2), scale)
    return _with_title(panel, title, scale)


def normal_disk(diameter: int) -> Tuple[np.ndarray, np.ndarray]:
    """Unit normals of a sphere seen by the camera: ((3, d, d) normals, (d, d) inside).

    Camera coordinates as the data: x right, y down, z forward; the visible
    half of a sphere faces the camera, so its normals have z <= 0.
    """
    coords = (np.arange(diameter, dtype=np.float32) + 0.5) / diameter * 2 - 1
    y, x = np.meshgrid(coords, coords, indexing='ij')
    inside = x**2 + y**2 <= 1
    z = -np.sqrt(np.clip(1 - x**2 - y**2, 0, 1))
    normals = np.stack([x, y, z]) * inside
    return normals, inside


def normal_key(height: int, title: str = 'normal') -> np.ndarray:
    """A sphere coloured by the normal colour code, with its x / y axes named.

    Reading: a surface facing the camera has the colour of the centre,
    one turned right (x > 0) that of the right edge, one turned down
    (y > 0, e.g. a ceiling) that of the bottom edge.
    """
    from .colorize import colorize_normals
    scale = font_scale(height)
    line = _line_height(scale)
    text_w, text_h = text_size('+x', scale)
    top = min(MARGIN + line, height - 1)
    diameter = max(1, min(height - top - text_h - 2 * MARGIN, height - top))
    normals, inside = normal_disk(diameter)
    panel = _panel(height, MARGIN + diameter + MARGIN + text_w + MARGIN)
    disk = colorize_normals(normals)
    region = panel[top:top + diameter, MARGIN:MARGIN + diameter]
    region[inside] = disk[inside]
    put_text(panel, '+x', (MARGIN + diameter + MARGIN, top + diameter // 2 + text_h // 2), scale)
    put_text(panel, '+y', (MARGIN + diameter // 2 - text_w // 2,
                           top + diameter + MARGIN + text_h), scale)
    return _with_title(panel, title, scale)
