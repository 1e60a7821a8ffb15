"""Contact sheets: many small pictures in a labelled grid, one PNG.

Used for feature maps and filters (``kdream inspect``); any list of uint8 cells works.

Example:
    >>> cells = [np.zeros((8, 8), np.uint8), np.full((8, 8, 3), 200, np.uint8)]
    >>> sheet = contact_sheet(cells, ["mixed2:0", "mixed2:7"], cell_px=32)
    >>> sheet.shape
    (50, 80, 3)
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

GAP_PX = 4
TITLE_PX = 14
BACKGROUND = (24, 24, 24)
TITLE_COLOUR = (235, 235, 235)


def grid_shape(count: int, columns: int | None = None) -> tuple[int, int]:
    """(rows, columns) of a near-square grid for ``count`` cells (wider than tall)."""
    columns = columns or max(1, math.ceil(math.sqrt(count)))
    return math.ceil(count / columns), columns


def contact_sheet(
    cells: list[np.ndarray], titles: list[str], cell_px: int = 96, columns: int | None = None
) -> np.ndarray:
    """uint8 (H, W, 3) sheet: each cell resized to fit ``cell_px`` (nearest neighbour, so
    small maps and filters keep their pixels), titled above, in a grid."""
    if len(cells) != len(titles) or not cells:
        raise ValueError("contact_sheet: give one title per cell, and at least one cell")
    rows, columns = grid_shape(len(cells), columns)
    width = columns * (cell_px + GAP_PX) + GAP_PX
    height = rows * (cell_px + TITLE_PX + GAP_PX) + GAP_PX
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default()
    for index, (cell, title) in enumerate(zip(cells, titles)):
        row, column = divmod(index, columns)
        left = GAP_PX + column * (cell_px + GAP_PX)
        top = GAP_PX + row * (cell_px + TITLE_PX + GAP_PX)
        draw.text((left, top), _fit_title(draw, font, title, cell_px), fill=TITLE_COLOUR, font=font)
        picture = _cell_image(cell, cell_px)
        offset = ((cell_px - picture.width) // 2, (cell_px - picture.height) // 2)
        sheet.paste(picture, (left + offset[0], top + TITLE_PX + offset[1]))
    return np.asarray(sheet)


def _cell_image(cell: np.ndarray, cell_px: int) -> Image.Image:
    cell = np.asarray(cell)
    if cell.ndim == 3 and cell.shape[-1] == 1:
        cell = cell[..., 0]
    picture = Image.fromarray(cell, "L" if cell.ndim == 2 else "RGB").convert("RGB")
    scale = cell_px / max(picture.size)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    return picture.resize(size, Image.Resampling.NEAREST)


def _fit_title(draw, font, title: str, width_px: int) -> str:
    """The title, cut with an ellipsis where it is wider than its cell."""
    if draw.textlength(title, font=font) <= width_px:
        return title
    while title and draw.textlength(title + "…", font=font) > width_px:
        title = title[:-1]
    return title + "…"


def normalised(values: np.ndarray) -> np.ndarray:
    """Any float array -> uint8 over its own min..max (a constant array is mid-grey)."""
    values = np.asarray(values, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-12:
        return np.full(values.shape, 128, np.uint8)
    return np.rint((values - low) / (high - low) * 255).astype(np.uint8)
