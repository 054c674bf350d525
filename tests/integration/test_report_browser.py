"""report.html in a real browser: the audit of a small table and the frontier report of a small
sweep, each opened in headless Chromium.

The system's Chromium (Debian's ``chromium``, /usr/bin/chromium) is driven by the
``playwright`` package; playwright's own browsers are never downloaded. The page must show
the not-for-release banner on screen and keep it on every printed page, carry its title,
show the verdict on its first screen, load every plot (inlined, so nothing is fetched) and make
no network request; a full-page screenshot of each is kept under ``test-artifacts/`` for a person
to look at.

Without the browser or playwright the tests skip with the reason, unless
``DPSYNTH_REQUIRE_BROWSER=1`` (set by ``.ci/run``): then they fail.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from dpsynth.validators.context import AuditConfig
from dpsynth.validators.notice import BANNER
from dpsynth.validators.suite import audit
from dpsynth.validators.sweep_report import TITLE as SWEEP_TITLE
from dpsynth.validators.sweep_report import write_sweep_report
from tests.conftest import make_toy_frame, make_toy_schema
from tests.extras import installed
from tests.unit.validators.sweep_tables import cells_frame, sweep_folder, sweep_table

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
REQUIRE_BROWSER = os.environ.get("DPSYNTH_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SYNTHETIC_NAME = "toy-synthetic"
LOCAL_SCHEMES = ("file:", "data:", "about:")
VIEWPORT = {"width": 1280, "height": 900}
TITLES = {"audit": f"dpsynth audit: {SYNTHETIC_NAME}", "sweep": f"{SWEEP_TITLE} (NOT FOR RELEASE)"}


def missing_browser() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    if not installed("playwright"):
        return "needs the playwright package: pip install -c constraints.txt 'dpsynth[test]'"
    if not os.access(CHROMIUM, os.X_OK):
        return f"needs Chromium at {CHROMIUM}: apt-get install -y --no-install-recommends chromium"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = missing_browser()
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(f"DPSYNTH_REQUIRE_BROWSER=1 but the browser test cannot run: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module", params=["audit", "sweep"])
def written(request, tmp_path_factory):
    """The files of a real audit of a small table, or of the frontier report of a small sweep (its
    results table built by hand: 2 generators x 4 ε x 2 seeds, a reference and a failed cell)."""
    if request.param == "sweep":
        folder = sweep_folder(tmp_path_factory.mktemp("sweep"), sweep_table(), cells_frame())
        return {"kind": "sweep", **write_sweep_report(folder)}
    frame = make_toy_frame(n=400)
    synthetic = frame.iloc[300:].sample(150, replace=True, random_state=0)
    report = audit(train=frame.iloc[:300], holdout=frame.iloc[300:], synthetic=synthetic, schema=make_toy_schema(),
                   config=AuditConfig(n_bootstrap=10, min_group_size=10, intersections=False),
                   metadata={"synthetic_name": SYNTHETIC_NAME}, progress=False)
    return {"kind": "audit", **report.write(tmp_path_factory.mktemp("audit"))}


@pytest.fixture(scope="module")
def requests() -> list[str]:
    """Every URL the page below requests."""
    return []


@pytest.fixture(scope="module")
def page(browser, written, requests):
    """report.html opened in a fresh context (no JavaScript: the page must not need it), each request
    recorded in ``requests`` and any that would leave the machine aborted."""
    context = browser.new_context(java_script_enabled=False, viewport=VIEWPORT)
    context.set_default_timeout(5_000)  # a missing element fails in seconds, not after 30
    context.on("request", lambda request: requests.append(request.url))
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(LOCAL_SCHEMES)
                  else route.abort())
    tab = context.new_page()
    tab.goto(written["html"].as_uri(), wait_until="load")
    yield tab
    context.close()


def test_the_banner_is_visible_at_the_top(page):
    banner = page.get_by_text(BANNER, exact=True)
    assert banner.is_visible()
    box = banner.bounding_box()
    assert box is not None and box["y"] < 40 and box["height"] > 0
    page.mouse.wheel(0, 4000)  # scrolled down, the banner is still on screen
    page.wait_for_timeout(200)
    assert page.locator("h2").first.bounding_box()["y"] < 0  # (the page did scroll)
    assert 0 <= banner.bounding_box()["y"] < 40


def test_the_verdict_is_on_the_first_screen(page):
    page.mouse.wheel(0, -100_000)  # back to the top
    page.wait_for_timeout(200)
    heading = page.locator("h2", has_text="Verdict").first
    assert heading.is_visible()
    assert 0 <= heading.bounding_box()["y"] < VIEWPORT["height"]
    assert page.locator("td", has_text="FAIL").count() + page.locator("td", has_text="WARN").count() > 0


def test_the_banner_is_on_every_printed_page(page, written):
    """A fixed element repeats on each printed page in Chromium; the PDF is kept to look at."""
    page.emulate_media(media="print")
    try:
        header = page.locator("header", has_text=BANNER)
        assert header.is_visible()
        assert header.evaluate("e => getComputedStyle(e).position") == "fixed"
    finally:
        page.emulate_media(media="screen")
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = page.pdf(path=str(ARTIFACTS / f"{written['kind']}_report.pdf"), format="A4", print_background=True)
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) > 1  # several printed pages


def test_the_page_has_its_title(page, written):
    assert page.title() == TITLES[written["kind"]]


def test_every_image_loaded_from_the_page_itself(page, written):
    images = page.locator("img").evaluate_all(
        "imgs => imgs.map(i => ({complete: i.complete, width: i.naturalWidth, src: i.src.slice(0, 22)}))")
    plots = [k for k in written if k.startswith("plot:")]
    assert plots and len(images) == len(plots)
    for image in images:
        assert image["complete"] and image["width"] > 0, image
        assert image["src"] == "data:image/png;base64,", image


def test_the_page_makes_no_network_request(page, written, requests):
    page.reload(wait_until="load")
    assert [url for url in requests if not url.startswith(LOCAL_SCHEMES)] == []
    assert written["html"].as_uri() in requests  # the recording works: it saw the page itself


def test_a_full_page_screenshot_is_kept(page, written):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{written['kind']}_report.png"
    page.keyboard.press("Home")  # the banner sticks to the top of the viewport: start there
    page.wait_for_timeout(200)
    assert 0 <= page.get_by_text(BANNER, exact=True).bounding_box()["y"] < 40
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000
    shutil.copy(written["html"], ARTIFACTS / f"{written['kind']}_report.html")
