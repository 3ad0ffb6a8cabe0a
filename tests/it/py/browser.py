"""A thin bridge from a test to headless Chromium's DevTools protocol, over
--remote-debugging-pipe (no websocket, no port): each line the test writes on stdin is a
JSON command {"method", "params"} for the one page; the line written back is its result,
or {"error": ...}. One command of its own, {"method": "screenshot", "params": {"path"}},
writes the page as PNG.

    python3 browser.py CHROMIUM USER_DATA_DIR WIDTH HEIGHT
"""
import base64
import json
import os
import subprocess
import sys


def main():
    chromium, user_data, width, height = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()

    def wire():
        # Copies first: a pipe end may itself be fd 3 or 4, and dup2 onto itself would
        # leave it close-on-exec.
        read, write = os.dup(to_child_r), os.dup(from_child_w)
        os.dup2(read, 3)
        os.dup2(write, 4)

    child = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-dev-shm-usage", "--remote-debugging-pipe",
         f"--user-data-dir={user_data}", f"--window-size={width},{height}", "about:blank"],
        preexec_fn=wire, close_fds=False, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(user_data, "chromium.log"), "w"))
    os.close(to_child_r)
    os.close(from_child_w)
    out = os.fdopen(to_child_w, "wb", buffering=0)
    inp = os.fdopen(from_child_r, "rb", buffering=0)
    buffer = b""
    next_id = [0]

    def call(method, params=None, session=None):
        nonlocal buffer
        next_id[0] += 1
        message = {"id": next_id[0], "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        out.write(json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in buffer:
                chunk = inp.read(65536)
                if not chunk:
                    raise SystemExit("chromium closed the pipe")
                buffer += chunk
            raw, buffer = buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == next_id[0]:
                return reply

    target = call("Target.createTarget", {"url": "about:blank"})["result"]["targetId"]
    session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["result"]["sessionId"]
    call("Emulation.setDeviceMetricsOverride",
         {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}, session)
    print(json.dumps({"ready": True}), flush=True)
    try:
        for line in sys.stdin:
            command = json.loads(line)
            if command["method"] == "screenshot":
                # The page as it is now, written as PNG to params.path.
                shot = call("Page.captureScreenshot", {"format": "png"}, session)
                with open(command["params"]["path"], "wb") as f:
                    f.write(base64.b64decode(shot["result"]["data"]))
                print(json.dumps({"written": command["params"]["path"]}), flush=True)
                continue
            reply = call(command["method"], command.get("params"), session)
            print(json.dumps(reply.get("result", {"error": reply.get("error")})), flush=True)
    finally:
        child.kill()
        child.wait()


if __name__ == "__main__":
    main()
