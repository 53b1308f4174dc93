"""A real browser for the dashboard tests: Debian's ``chromium`` and ``chromium-driver`` (installed by
scripts/bootstrap.sh), driven headless by Selenium. Nothing is downloaded at test time: the driver and the
browser are named by path, so Selenium Manager never runs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver", "chromium-driver")


def output_dir() -> Path:
    """Where the screenshots of each run go (not committed): ``$FERRY_TEST_OUTPUT/dashboard``, by default
    ``.run/test-output/dashboard`` in the repository."""
    root = Path(os.environ.get("FERRY_TEST_OUTPUT") or REPO / ".run" / "test-output")
    path = root / "dashboard"
    path.mkdir(parents=True, exist_ok=True)
    return path


def find(names: tuple[str, ...]) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def chrome(download_dir: Path, width: int = 1280, height: int = 900):
    """Headless Chromium with a download folder, the browser console kept for the test to read."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = find(BROWSERS), find(DRIVERS)
    if browser is None or driver is None:
        raise RuntimeError("chromium and chromium-driver are needed (scripts/bootstrap.sh installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",  # tests run as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--no-first-run",
        "--no-proxy-server",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
        "--lang=en-GB",
    ):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(download_dir),
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        },
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)
