"""End to end in a real browser: Debian's Chromium driven by Playwright against `tunesmith serve`.

The microphone is simulated with a file (Chromium's fake capture device plays a synthesised
hum), a song is made through the page, the player's duration and the downloaded bundle are
checked, and a screenshot of each step is saved to $TUNESMITH_ARTIFACTS (default
build/e2e-screenshots) as test artifacts.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
from conftest import needs_soundfont

from tunesmith import humsynth

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("TUNESMITH_ARTIFACTS",
                                Path(__file__).resolve().parent.parent / "build" / "e2e-screenshots"))

pytestmark = [
    needs_soundfont,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt install chromium)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("studio")
    port = _free_port()
    env = {**os.environ, "TUNESMITH_PREVIEWS": "0"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "tunesmith"), "serve", "--port", str(port),
                             "--workers", "1", "--data", str(data)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/api/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the studio did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def hum_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mic") / "hum.wav"
    audio = humsynth.synthesize_hum(humsynth.demo_melody(seed=3), sample_rate=44100, seed=3)
    sf.write(path, audio, 44100, subtype="PCM_16")
    return path


def test_record_make_play_download(server: str, hum_file: Path, tmp_path: Path) -> None:
    pw = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    args = ["--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={hum_file}", "--autoplay-policy=no-user-gesture-required"]
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server)
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#style option").count() >= 4
        page.screenshot(path=str(ARTIFACTS / "1-start.png"), full_page=True)

        page.click("#record")
        page.wait_for_timeout(11_500)  # the fake microphone plays the hum (about 11 s)
        page.click("#record")
        page.wait_for_selector("#take:not([hidden])")
        assert not page.is_disabled("#go")
        page.select_option("#style", "jazz-swing")
        page.screenshot(path=str(ARTIFACTS / "2-recorded.png"), full_page=True)

        page.click("#go")
        page.wait_for_selector("#progress:not([hidden])")
        page.wait_for_function("document.querySelectorAll('#stages li.done').length >= 1",
                               timeout=120_000)
        page.screenshot(path=str(ARTIFACTS / "3-progress.png"), full_page=True)
        page.wait_for_selector("#result:not([hidden]) #download[href^='blob:']", timeout=240_000)
        assert page.inner_text("#error") == ""
        page.wait_for_function("document.getElementById('player').duration > 0", timeout=30_000)
        duration = page.evaluate("document.getElementById('player').duration")
        expected = float(page.evaluate("document.getElementById('player').dataset.duration"))
        assert 0.0 <= duration - expected < 4.0 and duration > 20  # plus the ring-out
        assert page.locator("#stems .stem").count() >= 3
        assert "jazz" in page.inner_text("#song-facts").lower()
        page.screenshot(path=str(ARTIFACTS / "4-song.png"), full_page=True)

        with page.expect_download() as dl:
            page.click("#download")
        saved = tmp_path / "bundle.zip"
        dl.value.save_as(saved)
        names = zipfile.ZipFile(io.BytesIO(saved.read_bytes())).namelist()
        assert {"v1/song.wav", "v1/song.mid", "v1/song.json"} <= set(names)
        assert any(n.startswith("v1/stems/") for n in names)

        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        page.wait_for_timeout(300)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1
        page.screenshot(path=str(ARTIFACTS / "5-phone.png"), full_page=True)

        page.wait_for_function("document.querySelectorAll('#songs li').length === 1")
        page.once("dialog", lambda d: d.accept())  # "Delete this song ... for good?"
        page.click("#delete-song")
        page.wait_for_selector("#result", state="hidden")
        page.wait_for_function("document.querySelectorAll('#songs li').length === 0")
        assert page.inner_text("#error") == ""
        browser.close()
