"""Streaming multipart parsing for the import upload: form fields are kept (small, bounded), the
file part is written to disk chunk by chunk as it arrives, counting bytes, so an upload over the
limit is refused (413) as soon as it passes it, and nothing is ever held whole in memory.

A body must also keep coming (as Apache's mod_reqtimeout MinRate, nginx's client_body_timeout):
at least ROSTER_UPLOAD_MIN_RATE bytes a second over every window of UPLOAD_RATE_WINDOW seconds,
and all of it within ROSTER_UPLOAD_TIMEOUT seconds; else 408 and what was written is removed,
so a client dripping bytes cannot hold a connection, a worker and a spool file for hours. A
body that ends without its closing boundary was cut short: refused (400), nothing imported."""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from fastapi import Request

from roster.api.http.errors import ApiError
from roster.runtime.settings import get_settings

MAX_FIELD_BYTES = 1024 * 1024
MAX_FIELDS = 50
UPLOAD_RATE_WINDOW = 30.0  # seconds: long enough for a mobile link's stalls


def upload_timeout() -> float:
    return get_settings().upload_timeout


def upload_min_rate() -> float:
    return get_settings().upload_min_rate


def max_upload_bytes() -> int:
    return get_settings().max_upload_bytes


def too_large(limit: int) -> ApiError:
    return ApiError(413, "file_too_large", f"The file is larger than the limit of {limit} bytes.")


def too_slow(message: str) -> ApiError:
    return ApiError(408, "request_timeout", f"{message}; nothing was imported: send the file again over a faster link")


class _Pace:
    """The minimum-rate rule, as marks of (when, bytes received by then): at most one a second, so
    the rule costs nothing per chunk; bytes between marks count as arrived at the later mark,
    which can only make the rule more lenient."""

    def __init__(self, min_rate: float, window: float):
        self.need, self.window = min_rate * window, window
        self.start = time.monotonic()
        self.received = 0
        self.marks: deque[tuple[float, int]] = deque([(self.start, 0)])

    def add(self, now: float, n: int) -> None:
        self.received += n
        if now - self.marks[-1][0] >= 1.0:
            self.marks.append((now, self.received))
        while len(self.marks) > 2 and self.marks[1][0] <= now - self.window:
            self.marks.popleft()

    def _had_by(self, when: float) -> int:
        return max((cum for t, cum in self.marks if t <= when), default=0)

    def broken(self, now: float) -> bool:
        return now - self.start >= self.window and self.received - self._had_by(now - self.window) < self.need

    def breaks_at(self) -> float:
        """When the rule breaks if nothing more comes: the first moment the last window holds too little."""
        candidates = sorted({max(self.start, t) + self.window for t, _ in self.marks})
        return next((t for t in candidates if self.received - self._had_by(t - self.window) < self.need), candidates[-1])


async def paced(chunks: AsyncIterator[bytes], window: float = UPLOAD_RATE_WINDOW) -> AsyncIterator[bytes]:
    """The body's chunks, as long as they come fast enough: 408 (too_slow) once the last `window`
    seconds brought fewer than ROSTER_UPLOAD_MIN_RATE bytes a second, or the whole body took
    longer than ROSTER_UPLOAD_TIMEOUT. A client that sends nothing at all is caught too: each
    wait for the next chunk lasts until the moment the rule would be broken, and no longer (a
    wait cut short ends the body's stream, so it is cut only when the upload is refused)."""
    timeout, min_rate = upload_timeout(), upload_min_rate()
    pace = _Pace(min_rate, window)
    iterator = chunks.__aiter__()
    slow = f"the upload came slower than {min_rate:g} bytes a second over {window:g} s (ROSTER_UPLOAD_MIN_RATE)"
    late = f"the upload took longer than {timeout:g} s (ROSTER_UPLOAD_TIMEOUT)"
    while True:
        deadline = min(pace.start + timeout, pace.breaks_at())
        try:
            with anyio.fail_after(max(deadline - time.monotonic(), 0) + 0.01):
                chunk = await iterator.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise too_slow(late if time.monotonic() - pace.start >= timeout else slow) from None
        now = time.monotonic()
        pace.add(now, len(chunk))
        if now - pace.start > timeout:
            raise too_slow(late)
        if pace.broken(now):
            raise too_slow(slow)
        yield chunk


@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    file_field: str | None = None
    filename: str | None = None
    path: Path | None = None
    size: int = 0  # bytes of the file part received
    kept: int = 0  # bytes of it written to `path` (less than size when keep_bytes cut it)

    @property
    def truncated(self) -> bool:
        return self.kept < self.size

    def cleanup(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


async def receive_upload(
    request: Request, spool_dir: Path, limit: int, file_field: str = "file", keep_bytes: int | None = None
) -> Upload:
    """Parse a multipart/form-data request. Only the part named `file_field` with a filename (or
    any part with a filename) is treated as the file; other parts are text fields.

    keep_bytes: write only the file's first `keep_bytes` bytes to disk; the rest is read (for the
    fields after it) and dropped. `limit` still bounds the whole file."""
    from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

    content_type = request.headers.get("content-type", "")
    ctype, params = parse_options_header(content_type)
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise ApiError(422, "validation_error", "the request must be multipart/form-data with a `file` part")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MAX_FIELD_BYTES * 4:
        raise too_large(limit)

    up = Upload()
    state: dict[str, Any] = {"headers": [], "name": b"", "value": b"", "part": None, "data": bytearray(), "nfields": 0}
    spool_dir.mkdir(parents=True, exist_ok=True)
    pending: list[bytes] = []
    out = None

    def on_part_begin() -> None:
        state["headers"] = []
        state["part"] = None
        state["data"] = bytearray()

    def on_header_field(d: bytes, s: int, e: int) -> None:
        state["name"] += d[s:e]

    def on_header_value(d: bytes, s: int, e: int) -> None:
        state["value"] += d[s:e]

    def on_header_end() -> None:
        state["headers"].append((state["name"].lower(), state["value"]))
        state["name"], state["value"] = b"", b""

    def on_headers_finished() -> None:
        disposition = dict(state["headers"]).get(b"content-disposition", b"")
        _, opts = parse_options_header(disposition)
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in opts and up.file_field is None and name == file_field:
            up.file_field = name
            up.filename = opts[b"filename"].decode("utf-8", "replace") or "upload.csv"
            state["part"] = "file"
        else:
            state["nfields"] += 1
            if state["nfields"] > MAX_FIELDS:
                raise ApiError(422, "validation_error", "too many form fields")
            state["part"] = ("field", name)

    def on_part_data(d: bytes, s: int, e: int) -> None:
        if state["part"] == "file":
            up.size += e - s
            if up.size > limit:
                raise too_large(limit)
            take = e - s if keep_bytes is None else max(0, min(e - s, keep_bytes - up.kept))
            if take:
                pending.append(bytes(d[s : s + take]))
                up.kept += take
        elif state["part"] is not None:
            state["data"] += d[s:e]
            if len(state["data"]) > MAX_FIELD_BYTES:
                raise ApiError(422, "validation_error", f"the form field `{state['part'][1]}` is too large")

    def on_part_end() -> None:
        if state["part"] not in (None, "file"):
            up.fields.setdefault(state["part"][1], state["data"].decode("utf-8", "replace"))

    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    up.path = spool_dir / f"{uuid.uuid4().hex}.upload"
    try:
        out = await anyio.open_file(up.path, "wb")
        async for chunk in paced(request.stream()):
            try:
                parser.write(chunk)
            except ApiError:
                raise
            except Exception as e:
                raise ApiError(422, "validation_error", f"the multipart body is malformed: {e}") from None
            if pending:
                await out.write(b"".join(pending))
                pending.clear()
        parser.finalize()
        if parser.state != MultipartState.END:
            raise ApiError(
                400,
                "validation_error",
                "the multipart body ends before its closing boundary (the upload was cut short); nothing was imported",
            )
        await out.aclose()
        out = None
    except BaseException:
        if out is not None:
            await out.aclose()
        up.cleanup()
        raise
    if up.file_field is None:
        up.cleanup()
        up.path = None
    return up
