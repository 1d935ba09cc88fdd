"""Draws the Teams app icons with Pillow: `python appPackage/make_icons.py` rewrites both PNGs.

color.png: 192x192 full colour. outline.png: 32x32, pure white on a fully transparent background (no
anti-aliasing, so every pixel is either opaque white or fully transparent, as Teams asks).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
ACCENT = (47, 111, 219, 255)  # #2F6FDB, the manifest's accentColor
WHITE = (255, 255, 255, 255)
GREEN = (80, 220, 150, 255)
TRANSPARENT = (0, 0, 0, 0)


def radar(draw: ImageDraw.ImageDraw, size: int, ink: tuple[int, int, int, int], width: int) -> None:
    """Two rings, a sweep line and a centre dot: a radar screen."""
    c = size // 2
    outer = round(size * 0.40)
    inner = round(size * 0.22)
    draw.ellipse((c - outer, c - outer, c + outer - 1, c + outer - 1), outline=ink, width=width)
    draw.ellipse((c - inner, c - inner, c + inner - 1, c + inner - 1), outline=ink, width=width)
    draw.line((c, c, c + round(outer * 0.70), c - round(outer * 0.70)), fill=ink, width=width)
    dot = max(2, width)
    draw.ellipse((c - dot, c - dot, c + dot - 1, c + dot - 1), fill=ink)


def color_icon() -> Image.Image:
    image = Image.new("RGBA", (192, 192), ACCENT)
    draw = ImageDraw.Draw(image)
    radar(draw, 192, WHITE, 8)
    blip = (128, 52)  # a referral on the radar
    draw.ellipse((blip[0] - 10, blip[1] - 10, blip[0] + 10, blip[1] + 10), fill=GREEN)
    return image


def outline_icon() -> Image.Image:
    image = Image.new("RGBA", (32, 32), TRANSPARENT)
    radar(ImageDraw.Draw(image), 32, WHITE, 2)
    return image


def main() -> None:
    color_icon().save(HERE / "color.png", optimize=True)
    outline_icon().save(HERE / "outline.png", optimize=True)


if __name__ == "__main__":
    main()
