"""HTML form bodies: ``application/x-www-form-urlencoded`` and ``multipart/form-data``.

``Resource.body(request)`` comes here for the two form types. Both give a dict: a field sent
once maps to its value, a field sent several times to the list of its values in order. Text
fields are str; file parts (those with a ``filename``) are :class:`UploadedFile` objects.

Multipart bodies are parsed as they are read, with python-multipart's streaming parser: a file
part is written to a :class:`tempfile.SpooledTemporaryFile` that moves to disk once the files
of the form hold more than :data:`SPOOL_SIZE` bytes in memory together, so an upload (or many
small ones) is never held in memory beyond that.
"""

from __future__ import annotations

import tempfile
from typing import IO, TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl

from kata.router.errors import HTTPError
from kata.router.inputs import read_input

if TYPE_CHECKING:
    from kata.router.request import Request

SPOOL_SIZE: Final = 1024 * 1024
"""The memory (1 MiB) the files of one form may take; past it they go to temporary files."""

_READ_CHUNK: Final = 64 * 1024


class UploadedFile:
    """A file sent in a ``multipart/form-data`` body.

    Attributes:
        name: the form field's name.
        filename: the file name the client sent (as sent: never use it as a path unchecked).
        content_type: the part's Content-Type (``application/octet-stream`` when absent).
        stream: the content, a binary file positioned at its start; in memory while the
            form's files fit in :data:`SPOOL_SIZE` bytes together, in a temporary file beyond.
        size: the content's length in bytes.
        spooled: whether the content went to a temporary file on disk.
    """

    __slots__ = ("content_type", "filename", "name", "size", "spooled", "stream")

    def __init__(
        self, name: str, filename: str, content_type: str, stream: IO[bytes], size: int, spooled: bool
    ) -> None:
        self.name = name
        self.filename = filename
        self.content_type = content_type
        self.stream = stream
        self.size = size
        self.spooled = spooled

    def read(self, size: int = -1) -> bytes:
        """Read from :attr:`stream` (all of it by default)."""
        return self.stream.read(size)

    def close(self) -> None:
        """Delete the temporary file now rather than when the object is garbage collected."""
        self.stream.close()

    def to_dict(self) -> dict[str, Any]:
        """What a response says of the file when a handler sends the form back: its metadata.

        kata.codec encodes objects through ``to_dict()``, so ``self.success(self.body(request))``
        answers a multipart form without a 500; the content is never echoed.
        """
        return {"filename": self.filename, "content_type": self.content_type, "size": self.size}

    def __repr__(self) -> str:
        return f"<UploadedFile {self.name}={self.filename!r} {self.content_type} {self.size} bytes>"


def _add(form: dict[str, Any], name: str, value: Any) -> None:
    """Store *value* under *name*: alone the first time, in a list once the name repeats."""
    if name not in form:
        form[name] = value
    elif type(form[name]) is list:
        form[name].append(value)
    else:
        form[name] = [form[name], value]


def read_urlencoded(request: Request) -> dict[str, Any]:
    """Decode an ``application/x-www-form-urlencoded`` body (bounded by ``max_body_size``).

    Raises:
        HTTPError: 400 for a body that is not UTF-8, carries a NUL byte or has more fields
            than ``max_form_parts``; 413 for a body over ``max_body_size``.
    """
    body = request.body
    limit = request._options.max_form_parts
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=limit)
    except UnicodeDecodeError:
        raise HTTPError(400, "the form body is not valid UTF-8") from None
    except ValueError:
        raise HTTPError(400, f"the form has more than {limit} fields (max_form_parts)") from None
    form: dict[str, Any] = {}
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            raise HTTPError(400, "a form field contains a NUL byte")
        _add(form, name, value)
    return form


class _Part:
    """The part being parsed: its headers, then where its content goes."""

    __slots__ = (
        "content_type",
        "data",
        "file",
        "filename",
        "header_field",
        "header_value",
        "memory",
        "name",
        "size",
    )

    def __init__(self) -> None:
        self.header_field = b""
        self.header_value = b""
        self.name = ""
        self.filename: str | None = None
        self.content_type = "application/octet-stream"
        self.file: Any = None
        self.data: list[bytes] = []
        self.size = 0
        self.memory = 0  # the bytes this file part may keep in memory before it rolls over


def read_multipart(request: Request) -> dict[str, Any]:
    """Decode a ``multipart/form-data`` body, streaming it from the server's input.

    Raises:
        HTTPError: 413 when the body exceeds ``max_upload_size``, a part ``max_part_size``
            or a text field ``max_body_size``; 400 for more parts than ``max_form_parts``, a
            missing boundary, a malformed or truncated body, or a part without a field name.
    """
    # Imported here: applications that never receive a multipart form never load the parser.
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser, parse_options_header

    options = request._options
    _, params = parse_options_header(request.content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise HTTPError(400, "the multipart/form-data Content-Type has no boundary")
    total_limit = options.max_upload_size
    length = request.content_length
    if length is not None and length > total_limit:
        raise HTTPError(
            413, f"the upload of {length} bytes is larger than {total_limit} bytes (max_upload_size)"
        )

    form: dict[str, Any] = {}
    parts = 0
    part = _Part()
    ended = False
    in_memory = 0  # bytes of the form's files kept in memory so far

    def on_part_begin() -> None:
        nonlocal part, parts
        parts += 1
        if parts > options.max_form_parts:
            raise HTTPError(400, f"the form has more than {options.max_form_parts} parts (max_form_parts)")
        part = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        if part.header_value:
            on_header_end()
        part.header_field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        part.header_value += data[start:end]

    def on_header_end() -> None:
        field = part.header_field.lower()
        value = part.header_value.decode("utf-8", "replace")
        if field == b"content-disposition":
            _, disposition = parse_options_header(value)
            part.name = disposition.get(b"name", b"").decode("utf-8", "replace")
            filename = disposition.get(b"filename")
            part.filename = None if filename is None else filename.decode("utf-8", "replace")
        elif field == b"content-type":
            part.content_type = value.strip()
        part.header_field = part.header_value = b""

    def on_headers_finished() -> None:
        if part.header_field:
            on_header_end()
        if not part.name:
            raise HTTPError(400, f"form part {parts} has no field name in its Content-Disposition")
        if part.filename is not None:
            # What is left of the form's memory budget; max_size=0 would mean "never roll over".
            part.memory = max(1, SPOOL_SIZE - in_memory)
            # Closed with the UploadedFile that owns it, or by _close_files on failure.
            part.file = tempfile.SpooledTemporaryFile(max_size=part.memory)  # noqa: SIM115

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part.size += end - start
        if part.size > options.max_part_size:
            raise HTTPError(
                413, f"form part {part.name!r} is larger than {options.max_part_size} bytes (max_part_size)"
            )
        if part.file is not None:
            part.file.write(data[start:end])
        elif part.size > options.max_body_size:
            raise HTTPError(
                413, f"form field {part.name!r} is larger than {options.max_body_size} bytes (max_body_size)"
            )
        else:
            part.data.append(data[start:end])

    def on_part_end() -> None:
        nonlocal in_memory
        if part.file is not None:
            part.file.seek(0)
            spooled = part.size > part.memory
            if not spooled:
                in_memory += part.size
            upload = UploadedFile(
                part.name, part.filename or "", part.content_type, part.file, part.size, spooled
            )
            _add(form, part.name, upload)
            return
        try:
            text = b"".join(part.data).decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPError(400, f"form field {part.name!r} is not valid UTF-8") from None
        _add(form, part.name, text)

    def on_end() -> None:
        nonlocal ended
        ended = True

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_end": on_end,
        },
    )
    total = 0
    try:
        for chunk in read_input(request, _READ_CHUNK):
            total += len(chunk)
            if total > total_limit:
                raise HTTPError(413, f"the upload is larger than {total_limit} bytes (max_upload_size)")
            parser.write(chunk)
    except BaseException as exc:
        _close_files(form, part)
        if isinstance(exc, MultipartParseError):
            raise HTTPError(400, f"malformed multipart/form-data body: {exc}") from None
        raise
    if not ended:
        _close_files(form, part)
        raise HTTPError(400, "the multipart/form-data body ended before its closing boundary")
    return form


def _close_files(form: dict[str, Any], part: _Part) -> None:
    """Delete the temporary files of a form that failed half-way."""
    if part.file is not None:
        part.file.close()
    for value in form.values():
        for item in value if type(value) is list else (value,):
            if isinstance(item, UploadedFile):
                item.close()


__all__ = ["SPOOL_SIZE", "UploadedFile", "read_multipart", "read_urlencoded"]
