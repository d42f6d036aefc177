"""Debian's chromium, headless, driven over its DevTools protocol: the browser tests' one client.

A small client on aiohttp's websocket: call a protocol method, evaluate
JavaScript in the page, poll an expression until it holds, type keys, and
collect what the console said. Nothing sleeps a fixed time.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from .waiting import wait_until

DEADLINE = 60.0
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


class Browser:
    """Headless chromium, driven over its DevTools protocol on a loopback port."""

    def __init__(self, url: str, profile: Path, size: tuple[int, int] = (1000, 700), *flags: str) -> None:
        self.profile = profile
        self.process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                "--disable-default-apps",
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                f"--window-size={size[0]},{size[1]}",
                *flags,
                url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.messages: list[dict] = []
        self._ids = 0

    async def connect(self) -> None:
        import aiohttp

        port_file = self.profile / "DevToolsActivePort"
        await wait_until(lambda: port_file.exists() and port_file.read_text().split("\n")[0], DEADLINE)
        port = int(port_file.read_text().split("\n")[0])
        self.session = aiohttp.ClientSession()

        async def page_target():
            try:
                async with self.session.get(f"http://127.0.0.1:{port}/json/list") as response:
                    targets = await response.json()
            except aiohttp.ClientError:
                return None
            return next((t for t in targets if t.get("type") == "page"), None)

        target = None
        while target is None:
            target = await asyncio.wait_for(page_target(), DEADLINE)
        self.socket = await self.session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
        await self.call("Runtime.enable")
        await self.call("Log.enable")

    async def call(self, method: str, **params) -> dict:
        self._ids += 1
        number = self._ids
        await self.socket.send_json({"id": number, "method": method, "params": params})
        while True:
            message = json.loads(await asyncio.wait_for(self.socket.receive_str(), DEADLINE))
            if message.get("id") == number:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.messages.append(message)

    async def evaluate(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def until(self, expression: str) -> None:
        """Poll a JavaScript expression until it is true, or fail after the deadline."""
        await wait_until(
            lambda: self._evaluate_while_loading(expression),
            DEADLINE,
            lambda: f"{expression} stayed false; the console said {self.complaints()}",
            interval=0.1,
        )

    async def _evaluate_while_loading(self, expression: str):
        try:
            return await self.evaluate(expression)
        except AssertionError as error:
            if "execution context" in str(error):
                return None  # the page is still on its way in
            raise

    async def type(self, text: str) -> None:
        # Key by key, as a keyboard does: the terminal reads keydown and keypress, not input events.
        for character in text:
            await self.call("Input.dispatchKeyEvent", type="keyDown", text=character, key=character)
            await self.call("Input.dispatchKeyEvent", type="keyUp", key=character)

    async def key(self, key: str, code: int, *, ctrl: bool = False) -> None:
        named = {"key": key, "windowsVirtualKeyCode": code, "modifiers": 2 if ctrl else 0}
        text = {"Enter": "\r", "Tab": "\t"}.get(key, "")
        await self.call("Input.dispatchKeyEvent", type="keyDown", text=text, **named)
        await self.call("Input.dispatchKeyEvent", type="keyUp", **named)

    def complaints(self) -> list[str]:
        """What the page's console said about blocked content (the CSP) or failures."""
        texts = []
        for message in self.messages:
            params = message.get("params", {})
            entry = params.get("entry") or {}
            if entry.get("level") == "error" or params.get("type") == "error":
                texts.append(entry.get("text") or json.dumps(params.get("args")))
        return texts

    async def screenshot(self, path: Path) -> Path:
        import base64

        shot = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    async def close(self) -> None:
        if hasattr(self, "socket"):
            await self.socket.close()
        if hasattr(self, "session"):
            await self.session.close()
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
