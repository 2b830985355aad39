"""Streaming multipart parsing for the import upload: form fields are kept (small, bounded), the
file part is written to disk chunk by chunk as it arrives, counting bytes, so an upload over the
limit is refused (413) as soon as it passes it, and nothing is ever held whole in memory."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from fastapi import Request

from roster.api.http.errors import ApiError

DEFAULT_MAX_UPLOAD_BYTES = 200 * 1024 * 1024
MAX_FIELD_BYTES = 1024 * 1024
MAX_FIELDS = 50


def max_upload_bytes() -> int:
    return int(os.environ.get("ROSTER_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES))


def too_large(limit: int) -> ApiError:
    return ApiError(413, "file_too_large", f"The file is larger than the limit of {limit} bytes.")


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
    from python_multipart.multipart import MultipartParser, parse_options_header

    content_type = request.headers.get("content-type", "")
    ctype, params = parse_options_header(content_type)
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise ApiError(422, "validation_error", "the request must be multipart/form-data with a `file` part")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MAX_FIELD_BYTES * 4:
        raise too_large(limit)

    up = Upload()
    state: dict = {"headers": [], "name": b"", "value": b"", "part": None, "data": bytearray(), "nfields": 0}
    spool_dir.mkdir(parents=True, exist_ok=True)
    pending: list[bytes] = []
    out = None

    def on_part_begin():
        state["headers"] = []
        state["part"] = None
        state["data"] = bytearray()

    def on_header_field(d, s, e):
        state["name"] += d[s:e]

    def on_header_value(d, s, e):
        state["value"] += d[s:e]

    def on_header_end():
        state["headers"].append((state["name"].lower(), state["value"]))
        state["name"], state["value"] = b"", b""

    def on_headers_finished():
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

    def on_part_data(d, s, e):
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

    def on_part_end():
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
        async for chunk in request.stream():
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
