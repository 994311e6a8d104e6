"""Headless Chromium for the web UI tests: the operating system's ``chromium`` and
``chromium-driver`` (``.ci/run`` installs them), driven by Selenium.

A machine without them skips these tests with the reason printed (``-ra``), never a
silent pass. Screenshots go to ``AGENTSPAN_TEST_ARTIFACTS`` (default ``test-artifacts/``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("AGENTSPAN_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("AGENTSPAN_CHROMEDRIVER", "/usr/bin/chromedriver")


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[dev]'"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (Path(path).is_file() or shutil.which(path)):
            return f"{path} not found: apt-get install -y {package} (or set AGENTSPAN_CHROMIUM/AGENTSPAN_CHROMEDRIVER)"
    return None


@pytest.fixture(scope="session")
def artifacts() -> Path:
    root = Path(os.environ.get("AGENTSPAN_TEST_ARTIFACTS", "test-artifacts"))
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _missing()
    if reason is not None:
        pytest.skip(f"no browser for the UI test: {reason}")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
