"""Errors raised by kata.codec."""


class DecodeError(ValueError):
    """Bytes that do not decode: malformed JSON or msgpack, or an unknown type tag.

    The message is the decoder's own, so it can be shown to the client that sent the bytes.
    """
