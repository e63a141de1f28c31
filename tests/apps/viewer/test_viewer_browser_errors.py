import pytest

from photoface.apps.viewer import browser
from photoface.errors import PhotofaceError


def test_a_browser_that_dies_at_once_is_a_clear_error_not_a_hang():
    with pytest.raises(PhotofaceError, match="closed the DevTools pipe"):
        browser.Browser(executable="/bin/false", timeout=20)


def test_no_chromium_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(browser, "find_chromium", lambda: None)
    with pytest.raises(PhotofaceError, match="no Chromium found"):
        browser.Browser()


def test_the_environment_names_the_executable(monkeypatch):
    monkeypatch.setenv("PHOTOFACE_CHROMIUM", "/opt/my/chrome")
    assert browser.find_chromium() == "/opt/my/chrome"
