"""The report in a real browser: headless Chromium at a desktop (1280x900) and a phone
(390x844) screen. Nothing may be wider than the screen, every figure must load and its
text stay legible, and every table must scroll in a box of its own."""

from __future__ import annotations

import json

import matplotlib.image
import pytest
from matplotlib.text import Text

from bgnn_deploy.report.plots import NARROW_WIDTH_IN, WIDTH_IN, render_views

SCREENS = {"desktop": (1280, 900), "phone": (390, 844)}
MIN_FONT_PX = 9  # the smallest text of a figure, in CSS px as shown

# what the page looks like once laid out, read in the page itself
PROBE = """JSON.stringify((() => {
  const root = document.documentElement, width = root.clientWidth;
  const outside = [...document.body.querySelectorAll("*")]
    .filter(e => !e.parentElement.closest(".scroll"))
    .filter(e => e.getBoundingClientRect().right > width + 0.5)
    .map(e => e.tagName + "." + e.className);
  return {
    innerWidth: innerWidth, clientWidth: width, scrollWidth: root.scrollWidth,
    outside: outside,
    images: [...document.images].map(i => ({
      view: i.dataset.view, complete: i.complete, natural: i.naturalWidth,
      shown: i.getBoundingClientRect().width, narrow: i.currentSrc !== i.src})),
    tables: [...document.querySelectorAll("table")].map(t => ({
      box: t.parentElement.className,
      overflow: getComputedStyle(t.parentElement).overflowX,
      boxRight: t.parentElement.getBoundingClientRect().right,
      width: t.getBoundingClientRect().width})),
  };
})())"""


@pytest.fixture(scope="module")
def smallest_fonts(realistic):
    """{(view, narrow): (smallest font in pt, figure width in inches)} of the figures the
    page embeds, read from the drawn text of each figure."""
    _, _, runs, _ = realistic
    out = {}
    for narrow, width in ((False, WIDTH_IN), (True, NARROW_WIDTH_IN)):
        for view in render_views(runs, width=width):
            if view.figure is None:
                continue
            texts = [
                t for t in view.figure.findobj(Text) if t.get_visible() and t.get_text().strip()
            ]
            smallest = min(t.get_fontsize() for t in texts)
            out[view.name, narrow] = (smallest, view.figure.get_size_inches()[0])
    return out


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"screenshots in {folder}")
    return folder


@pytest.mark.parametrize("screen", SCREENS)
def test_the_page_fits_the_screen_with_every_figure_legible(
    screen, realistic, chromium, smallest_fonts, shots
):
    result, *_ = realistic
    width, height = SCREENS[screen]
    chromium.open(result.index.resolve().as_uri(), width, height)
    page = json.loads(chromium.evaluate(PROBE))
    for name, full in (("viewport", False), ("page", True)):
        path = shots / f"{screen}-{width}x{height}-{name}.png"
        chromium.screenshot(path, full_page=full)
        assert matplotlib.image.imread(path).shape[1] == width

    # no horizontal overflow: the document is as wide as the screen, and a phone did not
    # have to zoom out to show it
    assert page["scrollWidth"] <= page["clientWidth"] == width, page
    assert page["innerWidth"] == width, page
    assert page["outside"] == [], page["outside"]

    # every figure the report wrote is on the page and loaded; a phone gets the narrow one
    drawn = {p.stem for p in result.images}
    assert sorted(i["view"] for i in page["images"]) == sorted(drawn)
    for image in page["images"]:
        assert image["complete"] and image["natural"] > 0, image
        assert image["narrow"] == (screen == "phone"), image
        assert image["shown"] <= width
        # the smallest text as shown: its size in the figure times the figure's scale
        points, inches = smallest_fonts[image["view"], image["narrow"]]
        shown_px = points / 72 * image["shown"] / inches
        assert shown_px >= MIN_FONT_PX, (image, points, shown_px)

    # every table scrolls in its own box, which itself fits the screen
    assert len(page["tables"]) >= 5  # summary, ops, sizes, latency figures, runs
    for table in page["tables"]:
        assert table["box"] == "scroll" and table["overflow"] == "auto", table
        assert table["boxRight"] <= width, table
    if screen == "phone":  # the tables really are wider than a phone: the boxes scroll
        assert max(t["width"] for t in page["tables"]) > width
