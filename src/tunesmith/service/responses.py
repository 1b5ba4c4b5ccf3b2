"""HTTP responses for stored files: sent straight from local disk (FileResponse: sendfile,
Range requests), or streamed from any other store with Content-Length and single-range
requests (what audio players ask for)."""

from __future__ import annotations

import mimetypes
import re

from fastapi import Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from tunesmith.service.storage import Folder, Manifest

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def file_response(folder: Folder, rel: str, request: Request, *, size: int | None = None,
                  media_type: str | None = None) -> Response:
    """`rel` from `folder`. `size`: known already (a version's manifest), saves a lookup."""
    local = folder.local_path(rel)
    if local is not None:
        return FileResponse(local, media_type=media_type)
    size = folder.size(rel) if size is None else size
    media_type = media_type or mimetypes.guess_type(rel)[0] or "application/octet-stream"
    headers = {"accept-ranges": "bytes"}
    wanted = _single_range(request.headers.get("range"), size)
    if request.headers.get("if-range") is not None:
        wanted = None  # no validators to compare against: send it whole, as RFC 9110 allows
    if wanted == "unsatisfiable":
        return Response(status_code=416, headers={"content-range": f"bytes */{size}"})
    if wanted is None:
        headers["content-length"] = str(size)
        return StreamingResponse(folder.iter_bytes(rel), media_type=media_type, headers=headers)
    start, end = wanted
    headers |= {"content-length": str(end - start),
                "content-range": f"bytes {start}-{end - 1}/{size}"}
    return StreamingResponse(folder.iter_bytes(rel, start=start, end=end), status_code=206,
                             media_type=media_type, headers=headers)


def zip_response(folder: Folder, rel: str, manifest: Manifest, *, arcroot: str,
                 filename: str) -> StreamingResponse:
    return StreamingResponse(folder.zip_chunks(rel, manifest, arcroot=arcroot),
                             media_type="application/zip",
                             headers={"content-disposition": f'attachment; filename="{filename}"'})


def _single_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(start, end exclusive) of a one-range `Range` header; None to send the whole file
    (no header, one we do not parse, several ranges); "unsatisfiable" past the end."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if m is None:
        return None
    first, last = m.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        n = int(last)
        if n == 0:
            return "unsatisfiable"
        return max(0, size - n), size
    start = int(first)
    if last and int(last) < start:
        return None  # not a valid range: ignored
    end = min(int(last) + 1, size) if last else size
    if start >= size or end <= start:
        return "unsatisfiable"
    return start, end
