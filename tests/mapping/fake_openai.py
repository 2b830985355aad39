"""A local OpenAI-compatible server for tests: answers POST /v1/chat/completions from a script."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI:
    """`answer(request_body) -> dict | str | None`: a dict is the structured answer (sent as the
    message content, JSON-encoded), a str is sent as the content verbatim, None means a 500.
    `delay` seconds are slept before answering (a timeout test)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.answer = lambda body: {"columns": []}
        self.delay = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(
                    {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                )
                if fake.delay:
                    time.sleep(fake.delay)
                content = fake.answer(body)
                if content is None:
                    self._send(500, {"error": {"message": "boom", "type": "server_error"}})
                    return
                if not isinstance(content, str):
                    content = json.dumps(content)
                self._send(
                    200,
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "logprobs": None,
                                "message": {"role": "assistant", "content": content, "refusal": None},
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    },
                )

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def item(column, target, key=None, ptype=None, invert=False, confidence=0.9, reason="model says so"):
    return {
        "column": column,
        "target": target,
        "property_key": key,
        "property_type": ptype,
        "invert": invert,
        "confidence": confidence,
        "reason": reason,
    }
