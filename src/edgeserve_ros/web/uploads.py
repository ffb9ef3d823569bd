"""
Bounded request bodies and multipart uploads.

The body is read chunk by chunk and refused (413) as soon as it passes the limit, before
it is all received; ``Content-Length`` over the limit is refused without reading. Multipart
bodies are parsed by Starlette's parser from that bounded buffer. File names are kept only
as display text (:func:`display_name`), never used as paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncGenerator, AsyncIterator, List, Optional

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser


class UploadError(Exception):
    """A request body that breaks a limit or does not parse; ``status`` is its HTTP code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    """One uploaded image: its bytes and a display name (never a path)."""

    data: bytes
    name: str


def display_name(filename: Optional[str], index: int) -> str:
    """Return a printable, path-free label for an upload: last path part, <= 80 chars."""
    base = (filename or '').replace('\\', '/').rsplit('/', 1)[-1]
    clean = ''.join(c for c in base if c.isprintable())[:80]
    return clean or f'image-{index}'


async def read_body(stream: AsyncIterator[bytes], content_length: Optional[str],
                    limit: int) -> bytes:
    """Return the whole body; raise 413 once it passes ``limit`` bytes."""
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise UploadError(400, f'bad Content-Length {content_length!r}') from None
        if declared > limit:
            raise UploadError(413, f'body of {declared} bytes exceeds max_body_bytes {limit}')
    body = bytearray()
    async for chunk in stream:
        body += chunk
        if len(body) > limit:
            raise UploadError(413, f'body exceeds max_body_bytes {limit}')
    return bytes(body)


async def _once(body: bytes) -> AsyncGenerator[bytes, None]:
    yield body


async def parse_multipart(headers: Headers, body: bytes, max_files: int,
                          max_part_bytes: int) -> List[Upload]:
    """Return the file parts of a multipart body, in order; raise :class:`UploadError`."""
    parser = MultiPartParser(headers, _once(body), max_files=max_files, max_fields=max_files,
                             max_part_size=max_part_bytes)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        status = 413 if 'Too many' in exc.message else 400
        raise UploadError(status, f'multipart: {exc.message}') from None
    uploads: List[Upload] = []
    try:
        for _, value in form.multi_items():
            if isinstance(value, UploadFile):
                uploads.append(Upload(await value.read(),
                                      display_name(value.filename, len(uploads))))
    finally:
        await form.close()
    if not uploads:
        raise UploadError(400, 'multipart body holds no file part')
    return uploads
