#!/usr/bin/env python3
"""Drives headless Chromium over its DevTools pipe (no extra packages): opens URL, then evaluates a
JavaScript EXPRESSION every 200 ms until its string value contains every --until text, and prints it.

  cdp.py URL EXPRESSION [--until TEXT]... [--timeout SECONDS] [--screenshot FILE.png] [--width PX]
         [--fail-on-errors] [--chromium-arg=ARG]...

Exit status 0 when every --until text appeared, 1 on timeout (the last value is printed either way),
2 when Chromium could not be driven, 3 with --fail-on-errors when the page threw an uncaught error or
logged one to the console (each printed on standard error; failed requests are not counted). Chromium's own output goes to /dev/null.
"""
import argparse
import base64
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self, extra_args=()):
        # Debian's /usr/bin/chromium is a shell wrapper; run the browser itself when it is there.
        binary = next((path for path in ("/usr/lib/chromium/chromium",) if os.access(path, os.X_OK)), None) \
            or shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if not binary:
            sys.exit("cdp.py: chromium is not installed")
        self.profile = tempfile.mkdtemp(prefix="drip-chromium-")
        to_chrome_read, to_chrome_write = os.pipe()
        from_chrome_read, from_chrome_write = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4.
        def wire_fds():
            # Chromium dies with this script, however it ends: a test that kills it (SIGKILL, which
            # nothing can catch) must not leave a browser behind. Linux only (prctl PR_SET_PDEATHSIG).
            if sys.platform.startswith("linux"):
                ctypes.CDLL(None).prctl(1, signal.SIGKILL)
            # dup2 onto the same number is a no-op that keeps close-on-exec, so clear it explicitly.
            os.dup2(to_chrome_read, 3)
            os.dup2(from_chrome_write, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)
        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-pipe",
             f"--user-data-dir={self.profile}", "--window-size=1200,900", *extra_args, "about:blank"],
            preexec_fn=wire_fds, close_fds=False,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_read)
        os.close(from_chrome_write)
        self.writer = os.fdopen(to_chrome_write, "wb", buffering=0)
        self.reader = os.fdopen(from_chrome_read, "rb", buffering=0)
        self.buffer = b""
        self.next_id = 0
        # What the page reported as errors (with Runtime and Log enabled), as text.
        self.errors = []

    def call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.writer.write(json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.buffer:
                chunk = self.reader.read(65536)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\0", 1)
            reply = json.loads(raw)
            self.note_error(reply)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def note_error(self, message):
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(details.get("exception", {}).get("description") or details.get("text", "an exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(" ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", [])))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error" \
                and params["entry"].get("source") != "network":
            # A failed request (a reset stream, a 404) is the network's, not a script error.
            self.errors.append(params["entry"].get("text", "an error"))

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("expression")
    parser.add_argument("--until", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=10)
    parser.add_argument("--screenshot")
    parser.add_argument("--width", type=int, help="the viewport's width for the screenshot (the page's full height is taken)")
    parser.add_argument("--fail-on-errors", action="store_true")
    parser.add_argument("--chromium-arg", action="append", default=[], help="one more argument for Chromium (repeatable)")
    args = parser.parse_args()

    try:
        browser = Browser(args.chromium_arg)
    except OSError as error:
        sys.exit(f"cdp.py: cannot start chromium: {error}")
    status, value = 1, ""
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        if args.fail_on_errors:
            browser.call("Runtime.enable", None, session)
            browser.call("Log.enable", None, session)
        browser.call("Page.navigate", {"url": args.url}, session)
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            result = browser.call("Runtime.evaluate", {"expression": args.expression, "returnByValue": True}, session)
            value = str(result.get("result", {}).get("value", ""))
            if all(text in value for text in args.until):
                status = 0
                break
            time.sleep(0.2)
        if args.screenshot:
            if args.width:
                height = browser.call("Runtime.evaluate", {"expression": "document.documentElement.scrollHeight", "returnByValue": True}, session)
                browser.call("Emulation.setDeviceMetricsOverride", {
                    "width": args.width, "height": int(height.get("result", {}).get("value", 900)), "deviceScaleFactor": 1, "mobile": False}, session)
            shot = browser.call("Page.captureScreenshot", {"format": "png"}, session)
            with open(args.screenshot, "wb") as file:
                file.write(base64.b64decode(shot["data"]))
    except RuntimeError as error:
        print(f"cdp.py: {error}", file=sys.stderr)
        status = 2
    finally:
        browser.close()
    print(value)
    if args.fail_on_errors and browser.errors:
        for error in browser.errors:
            print(f"cdp.py: the page reported an error: {error}", file=sys.stderr)
        status = status or 3
    sys.exit(status)


if __name__ == "__main__":
    main()
