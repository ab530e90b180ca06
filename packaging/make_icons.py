"""Draw the medsam-gui icon with Pillow and write every size the installers need.

The picture: a dark rounded tile, an axial CT slice (grey body outline with a bright
vertebra), a dashed prompt box around the vertebra and the teal mask inside it.
``resources/icons/medsam-gui.svg`` is the same drawing by hand, for Linux desktops.

    python packaging/make_icons.py        # rewrites resources/icons/* and the app icon
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

REPO_ROOT = Path(__file__).resolve().parents[1]
ICON_DIR = REPO_ROOT / "resources" / "icons"
PACKAGE_ICON = REPO_ROOT / "medsam_gui" / "resources" / "medsam-gui.png"
CANVAS = 1024  # drawn large, then scaled down with a good filter
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

TILE = (24, 32, 44, 255)
BODY = (150, 156, 166, 255)
BODY_EDGE = (210, 214, 220, 255)
BONE = (245, 245, 240, 255)
MASK = (0, 190, 170, 170)
BOX = (255, 176, 32, 255)


def draw_icon(size: int = CANVAS) -> Image.Image:
    """The icon as RGBA ``size`` x ``size`` (drawn on a 1024 grid, then resized)."""
    image = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((32, 32, 992, 992), radius=180, fill=TILE)
    draw.ellipse((120, 250, 904, 860), fill=BODY, outline=BODY_EDGE, width=18)  # body outline
    draw.ellipse((392, 330, 632, 560), fill=BONE)  # vertebral body
    draw.polygon([(400, 600), (624, 600), (512, 760)], fill=BONE)  # spinous process
    overlay = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    ImageDraw.Draw(overlay).ellipse((400, 338, 624, 552), fill=MASK)  # the predicted mask
    image = Image.alpha_composite(image, overlay)
    draw = ImageDraw.Draw(image)
    _dashed_rectangle(draw, (352, 290, 672, 600), dash=48, gap=28, width=22)
    return image if size == CANVAS else image.resize((size, size), Image.LANCZOS)


def _dashed_rectangle(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], dash: int, gap: int, width: int) -> None:
    """Draw the prompt box as dashes along its four sides."""
    x0, y0, x1, y1 = box
    for start, end in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))):
        length = abs(end[0] - start[0]) + abs(end[1] - start[1])
        step_x = (end[0] - start[0]) / length
        step_y = (end[1] - start[1]) / length
        position = 0
        while position < length:
            stop = min(position + dash, length)
            draw.line(
                (start[0] + step_x * position, start[1] + step_y * position, start[0] + step_x * stop, start[1] + step_y * stop),
                fill=BOX,
                width=width,
            )
            position += dash + gap


def main() -> None:
    ICON_DIR.mkdir(parents=True, exist_ok=True)
    master = draw_icon()
    for size in PNG_SIZES:
        master.resize((size, size), Image.LANCZOS).save(ICON_DIR / f"medsam-gui-{size}.png", optimize=True)
    master.save(ICON_DIR / "medsam-gui.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    master.save(ICON_DIR / "medsam-gui.icns")
    PACKAGE_ICON.parent.mkdir(parents=True, exist_ok=True)
    master.resize((256, 256), Image.LANCZOS).save(PACKAGE_ICON, optimize=True)
    print(f"icons written to {ICON_DIR} and {PACKAGE_ICON}")


if __name__ == "__main__":
    main()
