"""A tiny local-LLM chat app, and its benchmark harness: one question, one streamed answer, then exit.

It talks to Ollama the way an app does: POST /api/chat on OLLAMA_HOST, read the
NDJSON stream token by token, handle each token (optional busy work, standing in
for parsing and rendering) and append it to an on-screen buffer. Everything a
pull request might change lives in config.json: the system prompt, the user
prompt, the model, the work per token and the memory the app holds.

    python chat_app.py [config.json]

Under perfgate (`perfgate run ... -- python chat_app.py`) OLLAMA_HOST points at
perfgate's measuring proxy. The last line printed is the app's own figure:
PERFGATE {"first_token_on_screen_ms": ...}. Standard library only.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from pathlib import Path


def ollama_url() -> str:
    """Where Ollama is, as its own clients read it: OLLAMA_HOST is host:port or a URL."""
    host = os.environ.get("OLLAMA_HOST", "127.0.0.1:11434")
    url = (host if "://" in host else f"http://{host}").rstrip("/")
    if not url.startswith(("http://", "https://")):
        sys.exit(f"chat_app: OLLAMA_HOST must be host:port or an http(s) URL, not {host!r}")
    return url


def hold(megabytes: int) -> bytearray:
    """Memory the app keeps while it runs (caches, history, a view model...), every page touched."""
    block = bytearray(megabytes * 2**20)
    for offset in range(0, len(block), 4096):
        block[offset] = 1
    return block


def handle_token(text: str, screen: list[str], work_us: int) -> None:
    """What the app does per token: some work (parsing, layout), then show it."""
    deadline = time.perf_counter_ns() + work_us * 1000
    while time.perf_counter_ns() < deadline:
        pass
    screen.append(text)


def main(argv: list[str]) -> int:
    config_path = Path(argv[1]) if len(argv) > 1 else Path(__file__).with_name("config.json")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    held = hold(int(config.get("hold_mb", 0)))
    body = {
        "model": config["model"],
        "messages": [
            {"role": "system", "content": config["system_prompt"]},
            {"role": "user", "content": config["prompt"]},
        ],
        "stream": True,
        "options": {"num_predict": int(config.get("num_predict", 64)), "temperature": 0, "seed": 42},
    }
    request = urllib.request.Request(  # noqa: S310 -- ollama_url() is http(s) only
        f"{ollama_url()}/api/chat",
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json"},
    )
    screen: list[str] = []
    first_on_screen_ms = None
    started = time.perf_counter_ns()
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 -- http(s) only, as above
        for line in response:
            if not line.strip():
                continue
            chunk = json.loads(line)
            if "error" in chunk:
                print(f"chat-app: the runtime said: {chunk['error']}", file=sys.stderr)
                return 1
            text = chunk.get("message", {}).get("content", "")
            if text:
                handle_token(text, screen, int(config.get("per_token_work_us", 0)))
                if first_on_screen_ms is None:
                    first_on_screen_ms = (time.perf_counter_ns() - started) / 1e6
            if chunk.get("done"):
                break
    print("".join(screen))
    if first_on_screen_ms is not None:
        print("PERFGATE " + json.dumps({"first_token_on_screen_ms": round(first_on_screen_ms, 3)}))
    del held  # held until the answer was on screen, as the app's state would be
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
