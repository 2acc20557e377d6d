#!/usr/bin/env python3
"""Checks `newshound extract --json` metadata on mozilla/readability's test pages.

Usage: scripts/eval_metadata.py [--bin target/release/newshound] [--pages ../shared/fixtures/readability-pages]

For every page whose expected-metadata.json has a title (byline), reports whether the
extracted title is exactly the expected one and whether a byline was found (and whether it
equals the expected one). Development aid only; the test suite does not use it.
"""
import argparse
import json
import subprocess
from pathlib import Path

ap = argparse.ArgumentParser()
ap.add_argument("--bin", default="target/release/newshound")
ap.add_argument("--pages", default=str(Path(__file__).resolve().parent.parent.parent / "shared/fixtures/readability-pages"))
a = ap.parse_args()
title_ok = title_n = byline_found = byline_exact = byline_n = 0
for page in sorted(p for p in Path(a.pages).iterdir() if p.is_dir()):
    expected = json.loads((page / "expected-metadata.json").read_text(encoding="utf-8"))
    out = subprocess.run([a.bin, "extract", str(page / "source.html"), "--json",
                          "--url", "http://fakehost/test/page.html"], capture_output=True)
    got = json.loads(out.stdout.decode("utf-8") or "{}")
    notes = []
    if expected.get("title"):
        title_n += 1
        if got.get("title") == expected["title"]:
            title_ok += 1
        else:
            notes.append(f"title {got.get('title')!r} != {expected['title']!r}")
    if expected.get("byline"):
        byline_n += 1
        if got.get("byline"):
            byline_found += 1
            if got["byline"] == expected["byline"]:
                byline_exact += 1
            else:
                notes.append(f"byline {got['byline']!r} vs {expected['byline']!r}")
        else:
            notes.append(f"byline missing (expected {expected['byline']!r})")
    print(f"{page.name:<16} {'ok' if not notes else '; '.join(notes)}")
print(f"metadata: title exact {title_ok}/{title_n}, byline found {byline_found}/{byline_n} (exact {byline_exact})")
