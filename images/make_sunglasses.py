"""Draw images/sunglasses.png: the glasses the sunglasses filter puts on faces.

    python images/make_sunglasses.py

A 600x220 BGRA picture with a transparent background: two dark tinted lenses that fade from
nearly opaque at the top to see-through at the bottom, a black frame and a bridge. Drawn at 4x
size and shrunk with area averaging, so the edges are smooth.

The lens centres sit on the picture's middle row, 182 px either side of its centre. The filter
scales the picture to 1.2x the distance between the outer eye corners and centres it between the
eyes; with average face proportions that puts each lens centre on an eye.
"""

from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 600, 220  # final size in pixels
SUPER = 4  # drawing scale
LENS_CENTRES = ((118, 110), (482, 110))  # (x, y) in final pixels
LENS_HALF_WIDTH, LENS_HALF_HEIGHT = 110, 84
FRAME_THICKNESS = 12
FRAME_COLOUR = (28, 24, 22)  # BGR, nearly black
LENS_TOP, LENS_BOTTOM = (38, 30, 24), (92, 70, 52)  # BGR tint at the top and bottom of a lens
ALPHA_TOP, ALPHA_BOTTOM = 0.95, 0.72


def lens_outline(centre, mirror):
    """Points (in drawing pixels) around one lens: a rounded rectangle, wider at the top and
    slightly tapered towards the nose at the bottom."""
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    power = 2 / 3.2  # superellipse exponent: between an ellipse and a rectangle
    x = np.sign(np.cos(t)) * np.abs(np.cos(t)) ** power
    y = np.sign(np.sin(t)) * np.abs(np.sin(t)) ** power
    lower = np.clip(y, 0, None)
    inner = x * mirror < 0  # the side towards the nose
    x = np.where(inner, x * (1 - 0.22 * lower), x * (1 - 0.08 * lower))
    cx, cy = centre
    points = np.stack([cx + x * LENS_HALF_WIDTH, cy + y * LENS_HALF_HEIGHT], axis=1)
    return np.round(points * SUPER).astype(np.int32)


def draw():
    """The glasses as a float BGR colour layer and an alpha layer, at drawing size."""
    w, h = WIDTH * SUPER, HEIGHT * SUPER
    colour = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)

    # Lenses: a vertical tint and opacity gradient, and a faint diagonal reflection.
    rows = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    fade = np.clip((rows * HEIGHT - 30) / (HEIGHT - 60), 0, 1)
    tint = (np.array(LENS_TOP, np.float32) * (1 - fade[..., None])
            + np.array(LENS_BOTTOM, np.float32) * fade[..., None])
    lens_alpha = ALPHA_TOP * (1 - fade) + ALPHA_BOTTOM * fade
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) / SUPER
    lenses = np.zeros((h, w), np.uint8)
    outlines = []
    for centre, mirror in zip(LENS_CENTRES, (-1, 1)):
        outline = lens_outline(centre, mirror)
        outlines.append(outline)
        cv2.fillPoly(lenses, [outline], 255, lineType=cv2.LINE_AA)
    inside = lenses.astype(np.float32) / 255
    streak = np.exp(-(((xx - yy * 0.9) % 364 - 60) / 14) ** 2) * 0.35 * (1 - fade[:, :1] * 0.7)
    colour[:] = tint + streak[..., None] * 200
    alpha[:] = inside * np.broadcast_to(lens_alpha, (h, w))

    # Frame and bridge: opaque, drawn over the lenses.
    rim = np.zeros((h, w), np.uint8)
    thickness = FRAME_THICKNESS * SUPER
    cv2.polylines(rim, outlines, True, 255, thickness, lineType=cv2.LINE_AA)
    (lx, ly), (rx, _) = LENS_CENTRES
    bridge = np.array([[lx + LENS_HALF_WIDTH - 12, ly - 38], [WIDTH / 2, ly - 52],
                       [rx - LENS_HALF_WIDTH + 12, ly - 38]]) * SUPER
    cv2.polylines(rim, [np.round(bridge).astype(np.int32)], False, 255, thickness,
                  lineType=cv2.LINE_AA)
    rim_alpha = rim.astype(np.float32) / 255
    colour = colour * (1 - rim_alpha[..., None]) + np.array(FRAME_COLOUR) * rim_alpha[..., None]
    alpha = alpha * (1 - rim_alpha) + rim_alpha
    return colour, alpha


def shrink(colour, alpha):
    """Drawing size -> final size with area averaging of premultiplied colour (no dark fringes)."""
    size = (WIDTH, HEIGHT)
    premultiplied = cv2.resize(colour * alpha[..., None], size, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
    colour = premultiplied / np.maximum(alpha, 1e-6)[..., None]
    bgra = np.dstack([colour, alpha * 255])
    return np.clip(np.round(bgra), 0, 255).astype(np.uint8)


def main():
    path = Path(__file__).resolve().parent / "sunglasses.png"
    cv2.imwrite(str(path), shrink(*draw()))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
