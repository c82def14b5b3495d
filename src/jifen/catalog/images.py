"""Product pictures drawn with Pillow, for the demo and for items without a photo.

A soft diagonal gradient from one of a few warm palettes, a white "sticker" with an
icon-like shape (gift, cup, headphones, book, ticket, card, leaf, bag, bottle) and the
product's name. Nothing is downloaded; the CJK font is the system's when there is one.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

SIZE = 800
PALETTES = [
    ((255, 138, 101), (214, 51, 42)),  # coral → red
    ((255, 214, 102), (230, 138, 30)),  # gold
    ((129, 212, 250), (41, 98, 255)),  # sky → blue
    ((165, 214, 167), (46, 125, 50)),  # mint → green
    ((206, 147, 216), (106, 27, 154)),  # lilac → purple
    ((255, 171, 145), (191, 54, 12)),  # peach → rust
    ((128, 203, 196), (0, 105, 92)),  # teal
    ((244, 143, 177), (173, 20, 87)),  # pink
]
ICONS = ("gift", "cup", "headphones", "book", "ticket", "card", "leaf", "bag", "bottle")
FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
]


def _font(size: int) -> ImageFont.ImageFont:
    for path in FONT_CANDIDATES:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _gradient(top: tuple, bottom: tuple) -> Image.Image:
    """A diagonal gradient (top-left → bottom-right) with a soft light from the corner."""
    small = Image.new("RGB", (64, 64))
    pixels = small.load()
    for y in range(64):
        for x in range(64):
            t = (x + y) / 126
            pixels[x, y] = tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
    image = small.resize((SIZE, SIZE), Image.BICUBIC)
    glow = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(glow).ellipse((-260, -260, 420, 420), fill=90)
    glow = glow.filter(ImageFilter.GaussianBlur(90))
    return Image.composite(Image.new("RGB", (SIZE, SIZE), (255, 255, 255)), image, glow)


def _icon(image: Image.Image, icon: str, box: tuple[int, int, int, int], colour) -> None:
    """A simple, bold glyph inside `box`, drawn with thick strokes in `colour`."""
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx = (x0 + x1) // 2
    s = max(10, w // 14)

    def r(ax, ay, bx, by):
        return (x0 + ax * w, y0 + ay * h, x0 + bx * w, y0 + by * h)

    if icon == "gift":
        draw.rounded_rectangle(r(0.12, 0.38, 0.88, 0.9), radius=s, outline=colour, width=s)
        draw.rounded_rectangle(r(0.06, 0.26, 0.94, 0.42), radius=s // 2, fill=colour)
        draw.rectangle((cx - s // 2, y0 + 0.26 * h, cx + s // 2, y0 + 0.9 * h), fill=colour)
        draw.ellipse(r(0.22, 0.04, 0.5, 0.3), outline=colour, width=s)
        draw.ellipse(r(0.5, 0.04, 0.78, 0.3), outline=colour, width=s)
    elif icon == "cup":
        draw.rounded_rectangle(r(0.14, 0.3, 0.7, 0.88), radius=2 * s, outline=colour, width=s)
        draw.arc(r(0.56, 0.42, 0.9, 0.72), start=-90, end=90, fill=colour, width=s)
        for dx in (0.28, 0.42, 0.56):
            draw.arc(r(dx - 0.06, 0.04, dx + 0.06, 0.24), 100, 260, fill=colour, width=s // 2)
    elif icon == "headphones":
        draw.arc(r(0.12, 0.08, 0.88, 0.84), start=180, end=360, fill=colour, width=s)
        draw.rounded_rectangle(r(0.08, 0.46, 0.3, 0.9), radius=s, fill=colour)
        draw.rounded_rectangle(r(0.7, 0.46, 0.92, 0.9), radius=s, fill=colour)
    elif icon == "book":
        draw.rounded_rectangle(r(0.08, 0.14, 0.5, 0.86), radius=s, outline=colour, width=s)
        draw.rounded_rectangle(r(0.5, 0.14, 0.92, 0.86), radius=s, outline=colour, width=s)
        for dy in (0.34, 0.5, 0.66):
            draw.line(r(0.62, dy, 0.8, dy), fill=colour, width=s // 2)
    elif icon == "ticket":
        draw.rounded_rectangle(r(0.04, 0.22, 0.96, 0.78), radius=s, fill=colour)
        draw.ellipse(r(-0.04, 0.42, 0.12, 0.58), fill=(255, 255, 255))
        draw.ellipse(r(0.88, 0.42, 1.04, 0.58), fill=(255, 255, 255))
        for dy in range(5):
            y = 0.28 + dy * 0.1
            draw.line(r(0.66, y, 0.66, y + 0.05), fill=(255, 255, 255), width=s // 2)
    elif icon == "card":
        draw.rounded_rectangle(r(0.06, 0.2, 0.94, 0.8), radius=s * 2, fill=colour)
        draw.rectangle(r(0.06, 0.32, 0.94, 0.42), fill=(255, 255, 255))
        draw.rounded_rectangle(r(0.14, 0.58, 0.42, 0.68), radius=s // 2, fill=(255, 255, 255))
    elif icon == "leaf":
        # An almond-shaped leaf, tilted 45°, with a white vein.
        leaf = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        shape = ImageDraw.Draw(leaf)
        shape.ellipse((int(0.02 * w), int(0.3 * h), int(0.98 * w), int(0.7 * h)), fill=colour)
        shape.line(
            (int(0.1 * w), h // 2, int(0.86 * w), h // 2),
            fill=(255, 255, 255),
            width=max(4, s // 2),
        )
        leaf = leaf.rotate(45, resample=Image.BICUBIC)
        image.paste(leaf, (x0, y0), leaf)
        draw.line(r(0.08, 0.92, 0.26, 0.74), fill=colour, width=s)
    elif icon == "bottle":
        draw.rounded_rectangle(r(0.3, 0.26, 0.7, 0.92), radius=2 * s, outline=colour, width=s)
        draw.rounded_rectangle(r(0.38, 0.06, 0.62, 0.24), radius=s // 2, fill=colour)
        draw.line(r(0.3, 0.5, 0.7, 0.5), fill=colour, width=s // 2)
    else:  # bag
        draw.rounded_rectangle(r(0.12, 0.32, 0.88, 0.92), radius=s, fill=colour)
        draw.arc(r(0.3, 0.08, 0.7, 0.5), start=180, end=360, fill=colour, width=s)


def _fit_text(draw: ImageDraw.ImageDraw, text: str, max_width: int, size: int):
    while size > 20:
        font = _font(size)
        if draw.textlength(text, font=font) <= max_width:
            return font
        size -= 4
    return _font(size)


def product_image(*, name: str, seed: int = 0, icon: str | None = None, subtitle: str = ""):
    """An 800×800 RGB picture for a product called `name` (palette and icon by `seed`)."""
    top, bottom = PALETTES[seed % len(PALETTES)]
    icon = icon if icon in ICONS else ICONS[seed % len(ICONS)]
    image = _gradient(top, bottom)
    draw = ImageDraw.Draw(image)
    # Soft shapes in the background.
    overlay = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    shapes = ImageDraw.Draw(overlay)
    shapes.ellipse((520, -120, 940, 300), fill=(255, 255, 255, 36))
    shapes.ellipse((-160, 560, 260, 980), fill=(255, 255, 255, 28))
    image.paste(overlay, (0, 0), overlay)
    # The sticker: a white disc with a shadow, the icon in the palette's deep colour.
    shadow = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    ImageDraw.Draw(shadow).ellipse((230, 150, 570, 490), fill=(0, 0, 0, 70))
    shadow = shadow.filter(ImageFilter.GaussianBlur(22))
    image.paste(shadow, (0, 14), shadow)
    draw = ImageDraw.Draw(image)
    draw.ellipse((230, 140, 570, 480), fill=(255, 255, 255))
    _icon(image, icon, (310, 220, 490, 400), bottom)
    # The name (and a subtitle), centred under the sticker, white with a soft shadow so it
    # reads on the light palettes too.
    font = _fit_text(draw, name, 680, 64)
    small = _fit_text(draw, subtitle, 640, 34) if subtitle else None
    text_shadow = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    shade = ImageDraw.Draw(text_shadow)
    shade.text((SIZE // 2, 594), name, font=font, fill=(0, 0, 0, 110), anchor="mm")
    if small:
        shade.text((SIZE // 2, 664), subtitle, font=small, fill=(0, 0, 0, 110), anchor="mm")
    text_shadow = text_shadow.filter(ImageFilter.GaussianBlur(6))
    image.paste(text_shadow, (0, 0), text_shadow)
    draw = ImageDraw.Draw(image)
    draw.text((SIZE // 2, 590), name, font=font, fill=(255, 255, 255), anchor="mm")
    if small:
        draw.text((SIZE // 2, 660), subtitle, font=small, fill=(255, 255, 255), anchor="mm")
    return image


def product_image_png(*, name: str, seed: int = 0, icon: str | None = None, subtitle="") -> bytes:
    out = io.BytesIO()
    product_image(name=name, seed=seed, icon=icon, subtitle=subtitle).save(
        out, "PNG", optimize=True
    )
    return out.getvalue()
