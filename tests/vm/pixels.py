#!/usr/bin/env python3
"""Pixel checks on host-side screenshots (8-bit RGB or RGBA PNGs, as QEMU and ImageMagick write).

  pixels.py foreground PNG X Y W H        pixels in the rectangle that differ from the background
  pixels.py colour PNG X Y W H RRGGBB     pixels in the rectangle of that colour (within 8 per channel)
  pixels.py diff A.png B.png X Y W H      pixels in the rectangle that differ between two shots
  pixels.py window PNG WINDOWS.json WxH RRGGBB
                                          the WxH window of `msg windows --json` (listed bottom
                                          to top): prints "FOUND VISIBLE", the pixels of that
                                          colour in the part of it no window above covers, and
                                          that part's size

Each prints the count; with --at-least N it exits 1 when the count is lower.
"""
import struct
import sys
import zlib

# The compositor's background colour (compositor/src/render.rs: 0.1, 0.1, 0.14).
BACKGROUND = (26, 26, 36)


def read_png(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat = 8, b""
    width = height = channels = None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or interlace != 0 or colour not in (2, 6):
                raise ValueError(f"{path}: only 8-bit RGB/RGBA non-interlaced PNGs")
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + predictor) & 255
        rows.append(line)
        previous = line
    return width, height, channels, rows


def pixels(path, x, y, w, h):
    width, height, channels, rows = read_png(path)
    for row in range(max(y, 0), min(y + h, height)):
        line = rows[row]
        for col in range(max(x, 0), min(x + w, width)):
            i = col * channels
            yield tuple(line[i:i + 3])


def visible_part(windows_json, size):
    """The WxH window's rectangle and a test for the points of it no later window covers."""
    import json
    with open(windows_json) as f:
        windows = json.load(f)["windows"]
    rects = [(w["x"], w["y"], w["width"], w["height"]) for w in windows]
    index = next(i for i, r in enumerate(rects) if f"{r[2]}x{r[3]}" == size)
    above = rects[index + 1:]

    def uncovered(px, py):
        return not any(x <= px < x + w and y <= py < y + h for x, y, w, h in above)

    return rects[index], uncovered


def close(a, b, tolerance):
    return all(abs(p - q) <= tolerance for p, q in zip(a, b))


def main(argv):
    at_least = None
    if "--at-least" in argv:
        i = argv.index("--at-least")
        at_least = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 2
    verb = argv[1]
    if verb == "foreground":
        box = [int(v) for v in argv[3:7]]
        count = sum(1 for p in pixels(argv[2], *box) if not close(p, BACKGROUND, 3))
    elif verb == "colour":
        box = [int(v) for v in argv[3:7]]
        want = tuple(int(argv[7][i:i + 2], 16) for i in (0, 2, 4))
        count = sum(1 for p in pixels(argv[2], *box) if close(p, want, 8))
    elif verb == "diff":
        box = [int(v) for v in argv[4:8]]
        count = sum(1 for a, b in zip(pixels(argv[2], *box), pixels(argv[3], *box)) if not close(a, b, 3))
    elif verb == "window":
        (x, y, w, h), uncovered = visible_part(argv[3], argv[4])
        want = tuple(int(argv[5][i:i + 2], 16) for i in (0, 2, 4))
        points = [(px, py) for py in range(y, y + h) for px in range(x, x + w) if uncovered(px, py)]
        shown = set()
        for (px, py), p in zip(((px, py) for py in range(y, y + h) for px in range(x, x + w)), pixels(argv[2], x, y, w, h)):
            if close(p, want, 8):
                shown.add((px, py))
        count = sum(1 for point in points if point in shown)
        print(count, len(points))
        return 1 if at_least is not None and count < at_least else 0
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(count)
    return 1 if at_least is not None and count < at_least else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
