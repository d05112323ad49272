"""The online form's POST body read as aiohttp's request.post() reads it, except that every
part is an opaque body part: a file whose browser declares it multipart/* (a saved .mhtml
page is multipart/related) is not taken for a nested multipart body, whose boundary is the
file's own and would be "missed". Such a file becomes application/octet-stream."""

from __future__ import annotations

from tempfile import SpooledTemporaryFile

from aiohttp import hdrs, web
from aiohttp.helpers import parse_mimetype
from aiohttp.multipart import MultipartReader
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

SPOOL_BYTES = 1024 * 1024   # a file past this goes to disk while it is read, as aiohttp does
MAX_PARTS = 100             # the form has a dozen fields and three files


class _FlatReader(MultipartReader):
    """Parts whose declared type is multipart/* are read as plain parts."""

    def _get_part_reader(self, headers):
        if parse_mimetype(headers.get(hdrs.CONTENT_TYPE, "")).type == "multipart":
            headers = CIMultiDict(headers)
            headers[hdrs.CONTENT_TYPE] = "application/octet-stream"
            headers = CIMultiDictProxy(headers)
        return super()._get_part_reader(headers)


async def read_post(request: web.Request, max_size: int) -> MultiDictProxy:
    """The form's fields (str) and files (web.FileField); HTTPRequestEntityTooLarge past
    `max_size` bytes in all."""
    if request.content_type != "multipart/form-data":
        return await request.post()
    reader = _FlatReader(request.headers, request.content, client_max_size=max_size,
                         max_size_error_cls=web.HTTPRequestEntityTooLarge)
    out: MultiDict = MultiDict()
    total = 0
    while (part := await reader.next()) is not None:
        if len(out) >= MAX_PARTS:
            raise web.HTTPRequestEntityTooLarge(max_size, total)
        spool = SpooledTemporaryFile(SPOOL_BYTES)
        while chunk := await part.read_chunk():
            total += len(chunk)
            if total > max_size:
                spool.close()
                raise web.HTTPRequestEntityTooLarge(max_size, total)
            async for decoded in part.decode_iter(chunk):
                spool.write(decoded)
        spool.seek(0)
        if part.filename:
            declared = part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
            out.add(part.name or "", web.FileField(part.name or "", part.filename, spool, declared, part.headers))
        else:
            out.add(part.name or "", spool.read().decode(part.get_charset(default="utf-8"), errors="replace"))
            spool.close()
    return MultiDictProxy(out)
