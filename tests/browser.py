"""Headless Chromium through selenium, for tests that look at report.html as a reader would.

Debian's `chromium` and `chromium-driver` (installed by .ci/run). Where they are missing the
test is skipped, except under CI (CI=true), where a skipped browser test would hide a broken
report: there it fails.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Iterator

import pytest

#: Chromium as root on a machine without network: no sandbox, no GPU, and no background
#: connections (refused here, many at a time) or component updates.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")


def _missing(why: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser test cannot run under CI: {why}")
    pytest.skip(why)


@contextlib.contextmanager
def open_page(url: str) -> Iterator["object"]:
    """A selenium Chrome driver on ``url``, with a fresh profile, quit afterwards."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (test extras)")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_exe = shutil.which("chromedriver")
    if not browser or not driver_exe:
        _missing("Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    with tempfile.TemporaryDirectory(prefix="vadflow-chromium-") as profile:
        opts = webdriver.ChromeOptions()
        opts.binary_location = browser
        for flag in FLAGS:
            opts.add_argument(flag)
        opts.add_argument(f"--user-data-dir={profile}")
        # the driver path is given, so selenium's manager never tries to download one
        driver = webdriver.Chrome(service=Service(executable_path=driver_exe), options=opts)
        try:
            driver.set_page_load_timeout(60)
            driver.get(url)
            yield driver
        finally:
            driver.quit()
