"""What the OTLP decoders share: reading a request (protobuf or OTLP JSON), times, values.

OTLP JSON is the proto3 JSON mapping with OTLP's changes: trace and span ids are hex
strings (not base64), 64-bit integers may be strings, enums are integers, and unknown
fields are ignored. :func:`json_to_proto` fills the generated classes from it, so both
encodings reach the same mapping code. It does not use protobuf's ``json_format``: that
parser would read the hex ids as base64 (a 32-digit hex string is valid base64), quietly
accepts a string where an object belongs when unknown fields are ignored, and names no
list index in its errors.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from correlator.errors import DecodeError, ValidationFailedError
from correlator.model.message import RawMessage

__all__ = [
    "UNKNOWN_SERVICE",
    "any_value_to_str",
    "attributes_to_dict",
    "datetime_from_ns",
    "json_to_proto",
    "loads_json",
    "ns_from_datetime",
    "parse_json_object",
    "read_request",
    "service_name",
]

UNKNOWN_SERVICE = "unknown_service"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FLOAT_EXACT_NS = 2**32 * 10**9  # up to 2**32 s a double holds unix seconds within 2**-22 s
_fromtimestamp = datetime.fromtimestamp
_JSON_TYPES = ("application/json",)
_PROTO_TYPES = ("application/x-protobuf", "application/protobuf", "application/octet-stream")
_WHITESPACE = b" \t\r\n"

RequestT = TypeVar("RequestT", bound=Message)


def datetime_from_ns(ns: int) -> datetime:
    """Unix nanoseconds to an aware UTC datetime (truncated to microseconds).

    Below ``_FLOAT_EXACT_NS`` (2**32 s, year 2106) a float of seconds is within a quarter of a
    microsecond of the truth, so ``fromtimestamp``'s rounding gives the exact microsecond,
    at half the cost of adding a timedelta.

    >>> datetime_from_ns(1_700_000_000_123_456_789)
    datetime.datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=datetime.timezone.utc)
    """
    if 0 <= ns < _FLOAT_EXACT_NS:
        return _fromtimestamp(ns // 1000 / 1e6, UTC)
    return _EPOCH + timedelta(microseconds=ns // 1000)


def ns_from_datetime(at: datetime) -> int:
    """An aware datetime to unix nanoseconds, exactly.

    >>> ns_from_datetime(datetime_from_ns(1_700_000_000_123_456_000))
    1700000000123456000
    """
    return (at - _EPOCH) // timedelta(microseconds=1) * 1000


def any_value_to_str(value: AnyValue) -> str:
    """Flatten an OTLP AnyValue to a string, as the Collector's ``Value.AsString`` does.

    Strings stay as they are, booleans are ``true``/``false``, numbers use Python's
    ``str``, bytes are base64, arrays and key-value lists are compact JSON, and an empty
    value is ``""``.

    >>> any_value_to_str(AnyValue(int_value=42)), any_value_to_str(AnyValue(bool_value=True))
    ('42', 'true')
    >>> from opentelemetry.proto.common.v1.common_pb2 import ArrayValue
    >>> any_value_to_str(AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="a")])))
    '["a"]'
    """
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind is None:
        return ""
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return str(value.double_value)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return json.dumps(_any_value_to_python(value), separators=(",", ":"), allow_nan=True)


def _any_value_to_python(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_any_value_to_python(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value_to_python(kv.value) for kv in value.kvlist_value.values}
    if kind in ("string_value", "bool_value", "int_value", "double_value"):
        return getattr(value, kind)
    return any_value_to_str(value) if kind else None


def attributes_to_dict(attributes: Iterable[KeyValue]) -> dict[str, str]:
    """OTLP attributes to a flat ``dict[str, str]`` (values through :func:`any_value_to_str`).

    >>> attributes_to_dict([KeyValue(key="http.status_code", value=AnyValue(int_value=503))])
    {'http.status_code': '503'}
    """
    out: dict[str, str] = {}
    for kv in attributes:
        value = kv.value
        # a non-empty string_value means the oneof holds a string: skip WhichOneof
        out[kv.key] = value.string_value or any_value_to_str(value)
    return out


def service_name(resource: Resource) -> str:
    """The ``service.name`` resource attribute, or ``unknown_service`` if absent or empty.

    >>> service_name(Resource(attributes=[KeyValue(key="service.name",
    ...     value=AnyValue(string_value="checkout"))]))
    'checkout'
    >>> service_name(Resource())
    'unknown_service'
    """
    for kv in resource.attributes:
        if kv.key == "service.name":
            return any_value_to_str(kv.value) or UNKNOWN_SERVICE
    return UNKNOWN_SERVICE


def read_request(
    message: RawMessage,
    value: bytes,
    request_type: type[RequestT],
    resources_field: str,
    decoder: str,
) -> RequestT:
    """Parse ``value`` as an OTLP export request, protobuf or JSON.

    The encoding comes from a ``content-type`` header if it names one, else from the first
    byte that is not a space, tab or carriage return (``{`` means JSON). A newline does not
    count as blank here: 0x0A is the tag byte every OTLP protobuf request starts with, and the
    length varint after it can be 0x7B (``{``).
    Non-empty protobuf input that yields no ``resources_field`` entries is rejected:
    every byte of it was an unknown field, so it is not this kind of request.
    """
    if _is_json(message, value):
        obj = parse_json_object(value, decoder)
        camel = _camel(resources_field)
        if camel not in obj and resources_field not in obj:
            raise ValidationFailedError(f"{decoder}: missing field {camel!r} at the top level")
        request: RequestT = request_type()
        json_to_proto(obj, request, decoder)
        return request
    try:
        request = request_type.FromString(value)
    except ProtobufDecodeError as exc:
        raise DecodeError(
            f"{decoder}: not a valid {request_type.DESCRIPTOR.name} protobuf "
            f"({len(value)} bytes; truncated or not OTLP): {exc}"
        ) from None
    if not getattr(request, resources_field):
        raise DecodeError(
            f"{decoder}: {len(value)} bytes parsed as {request_type.DESCRIPTOR.name} with no "
            f"{resources_field} (only unknown fields): not this kind of OTLP request"
        )
    return request


def _is_json(message: RawMessage, value: bytes) -> bool:
    header = message.header("content-type")
    if header:
        media = header.split(b";", 1)[0].strip().decode("latin-1").lower()
        if media in _JSON_TYPES:
            return True
        if media in _PROTO_TYPES:
            return False
    return value.lstrip(b" \t\r")[:1] == b"{"


def parse_json_object(value: bytes, decoder: str) -> dict[str, Any]:
    """Decode UTF-8 JSON that must be an object, or raise DecodeError saying where it breaks.

    >>> parse_json_object(b'{"a": 1}', "x")
    {'a': 1}
    >>> parse_json_object(b'{"a": ', "x")
    Traceback (most recent call last):
    ...
    correlator.errors.DecodeError: x: invalid JSON at line 1 column 7: Expecting value
    """
    obj = loads_json(value, decoder)
    if not isinstance(obj, dict):
        raise ValidationFailedError(f"{decoder}: expected a JSON object, got {type(obj).__name__}")
    return obj


def loads_json(value: bytes | str, decoder: str, where: str = "") -> Any:
    """Decode UTF-8 JSON, raising DecodeError with the byte, line and column at fault."""
    try:
        text = value.decode("utf-8") if isinstance(value, bytes) else value
    except UnicodeDecodeError as exc:
        raise DecodeError(
            f"{decoder}: {where}not valid UTF-8 at byte {exc.start}: {exc.reason}"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        at = f"column {exc.colno}" if where else f"line {exc.lineno} column {exc.colno}"
        raise DecodeError(f"{decoder}: {where}invalid JSON at {at}: {exc.msg}") from None
    except RecursionError:
        raise DecodeError(f"{decoder}: {where}JSON nested too deeply") from None


def json_to_proto(obj: Mapping[str, Any], target: Message, decoder: str, path: str = "") -> None:
    """Fill ``target`` from an OTLP JSON object, strictly, naming the path of any bad value.

    Field names may be lowerCamelCase (as OTLP JSON writes them) or snake_case; unknown
    fields and ``null`` are ignored. Integers may be numbers or decimal strings, enums
    integers or names, ``traceId``/``spanId``/``parentSpanId`` hex, other bytes base64.

    >>> from opentelemetry.proto.trace.v1.trace_pb2 import Span
    >>> span = Span()
    >>> json_to_proto({"traceId": "5b8efff798038103d269b633813fc60c", "kind": 2,
    ...                "startTimeUnixNano": "1544712660000000000"}, span, "x")
    >>> span.trace_id.hex(), span.kind, span.start_time_unix_nano
    ('5b8efff798038103d269b633813fc60c', 2, 1544712660000000000)
    >>> json_to_proto({"links": [{"spanId": "zz"}]}, span, "x")
    Traceback (most recent call last):
    ...
    correlator.errors.ValidationFailedError: x: links[0].spanId: 'zz' is not a hex id
    """
    descriptor = target.DESCRIPTOR
    for key, value in obj.items():
        field = descriptor.fields_by_camelcase_name.get(key) or descriptor.fields_by_name.get(key)
        if field is None or value is None:
            continue
        where = f"{path}.{key}" if path else key
        if field.is_repeated:
            if not isinstance(value, list):
                raise _bad(decoder, where, f"expected a list, got {_json_type(value)}")
            items = getattr(target, field.name)
            for index, item in enumerate(value):
                item_where = f"{where}[{index}]"
                if field.cpp_type == _MESSAGE:
                    item_obj = _object(item, decoder, item_where)
                    json_to_proto(item_obj, items.add(), decoder, item_where)
                else:
                    items.append(_scalar(field, item, decoder, item_where))
        elif field.cpp_type == _MESSAGE:
            child = getattr(target, field.name)
            child.SetInParent()
            json_to_proto(_object(value, decoder, where), child, decoder, where)
        else:
            converted = _scalar(field, value, decoder, where)
            try:
                setattr(target, field.name, converted)
            except (ValueError, TypeError) as exc:
                raise _bad(decoder, where, str(exc)) from None


_MESSAGE = FieldDescriptor.CPPTYPE_MESSAGE
_INTEGERS = frozenset(
    {
        FieldDescriptor.CPPTYPE_INT32,
        FieldDescriptor.CPPTYPE_INT64,
        FieldDescriptor.CPPTYPE_UINT32,
        FieldDescriptor.CPPTYPE_UINT64,
    }
)
_FLOATS = frozenset({FieldDescriptor.CPPTYPE_DOUBLE, FieldDescriptor.CPPTYPE_FLOAT})
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_HEX_IDS = frozenset({"trace_id", "span_id", "parent_span_id"})


def _scalar(field: FieldDescriptor, value: Any, decoder: str, where: str) -> Any:
    cpp = field.cpp_type
    if cpp in _INTEGERS:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lstrip("-").isdigit():
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _bad(decoder, where, f"expected an integer, got {_json_repr(value)}")
    if cpp in _FLOATS:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            if value in _SPECIAL_FLOATS:
                return _SPECIAL_FLOATS[value]
            try:
                return float(value)
            except ValueError:
                pass
        raise _bad(decoder, where, f"expected a number, got {_json_repr(value)}")
    if cpp == FieldDescriptor.CPPTYPE_BOOL:
        if isinstance(value, bool):
            return value
        raise _bad(decoder, where, f"expected true or false, got {_json_repr(value)}")
    if cpp == FieldDescriptor.CPPTYPE_ENUM:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value in field.enum_type.values_by_name:
            return field.enum_type.values_by_name[value].number
        raise _bad(decoder, where, f"expected an enum number, got {_json_repr(value)}")
    if not isinstance(value, str):
        raise _bad(decoder, where, f"expected a string, got {_json_repr(value)}")
    if field.type != FieldDescriptor.TYPE_BYTES:
        return value
    try:
        if field.name in _HEX_IDS:
            return bytes.fromhex(value)
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        what = "a hex id" if field.name in _HEX_IDS else "base64"
        raise _bad(decoder, where, f"{value[:64]!r} is not {what}") from None


def _object(value: Any, decoder: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _bad(decoder, where, f"expected an object, got {_json_type(value)}")
    return value


def _bad(decoder: str, where: str, what: str) -> ValidationFailedError:
    return ValidationFailedError(f"{decoder}: {where}: {what}")


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _json_repr(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 64 else text[:61] + "..."


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
