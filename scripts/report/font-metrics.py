#!/usr/bin/env python3
"""Writes report/font-metrics.json: advance widths (in em) of DejaVu Sans and DejaVu Sans
Bold for Latin-1 and Latin Extended-A, read from the TTF files with fontTools.

Why: the report lays out text (axis labels, long system names, the CD diagram) without a canvas,
so it measures with this committed table instead of whatever fonts the machine has. DejaVu Sans is
among the widest common sans fonts, so text drawn in Helvetica, Arial or Liberation Sans fits the
room measured for it.

  python3 -m pip install fonttools && python3 scripts/report/font-metrics.py
"""
import json
from pathlib import Path
from fontTools.ttLib import TTFont

FONTS = {"normal": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "bold": "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"}
RANGES = [(0x20, 0x7E), (0xA0, 0x17F), (0x2013, 0x2014), (0x2018, 0x2019), (0x201C, 0x201D), (0x2026, 0x2026), (0x2212, 0x2212), (0x00B1, 0x00B1)]

out = {"font": "DejaVu Sans", "source": "fontTools hmtx advance widths / unitsPerEm", "weights": {}}
for weight, path in FONTS.items():
    f = TTFont(path)
    upem = f["head"].unitsPerEm
    cmap = f.getBestCmap()
    hmtx = f["hmtx"]
    widths = {}
    for lo, hi in RANGES:
        for cp in range(lo, hi + 1):
            if cp in cmap:
                widths[chr(cp)] = round(hmtx[cmap[cp]][0] / upem, 4)
    # Characters outside the table (CJK, symbols) are measured as a full em: wide, never too narrow.
    out["weights"][weight] = {"fallback": 1.0, "widths": widths}
target = Path(__file__).resolve().parents[2] / "warehouse" / "report" / "font-metrics.json"
target.write_text(json.dumps(out, ensure_ascii=False, sort_keys=True, indent=0) + "\n", encoding="utf-8")
print(f"wrote {target}")
