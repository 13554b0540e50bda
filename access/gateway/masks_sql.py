"""Column masks and PII decryption as Spark SQL expressions (sqlglot trees).

Each mask of :mod:`access.masks` becomes one expression over a stored column:

=========  ===================================================================
clear      the column (a PII column without a mask shows ``redact``, never
           its ciphertext)
``null``   ``CAST(NULL AS <contract type>)``
``redact`` ``'***'`` for a non-null value, NULL for NULL
``hash``   HMAC-SHA-256 (hex) under the table's hash key of the value's text
           (UTF-8 of ``CAST(v AS STRING)``; a PII column's stored plaintext)
``partial`` ``'***'`` followed by the last ``keep_last`` characters of the text
``decrypt`` ``try_aes_decrypt(col, key, 'GCM')`` cast back to the contract
           type on a column stored encrypted; the column itself on any other
=========  ===================================================================

Keys never appear in SQL text: every key is a named parameter marker
(``:lg_k0``) bound when Spark parses the statement, so the text can be
logged, shown in errors and audited. Spark has no HMAC function; the hash
is built from its definition, ``H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m))``, with the
two padded keys as parameters. Decryption uses ``try_aes_decrypt``: a value
that does not decrypt becomes NULL instead of an error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa
from sqlglot import exp

from access.masks import Mask, MaskKind

#: What ``redact`` and the prefix of ``partial`` show.
REDACTED_TEXT = "***"
_HMAC_BLOCK = 64


@dataclass(frozen=True)
class ColumnSpec:
    """A column of a governed table.

    Attributes:
        name: Column name.
        type: Its type in clear (the contract type).
        pii: Sensitive: without a mask it shows as ``redact``.
        key: Set when the stored value is ``nonce‖ciphertext‖tag``: names the
            data key that decrypts it (a key of :attr:`CatalogTable.data_keys`).
            A dataset's PII columns all have one; a view's PII column has one
            only when it passes a dataset's ciphertext through.
    """

    name: str
    type: pa.DataType
    pii: bool = False
    key: str | None = None

    def __hash__(self) -> int:
        # Kept: a table's columns key the gateway's templates on every query, and
        # hashing an Arrow type is slow.
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.name, self.type, self.pii, self.key))
            object.__setattr__(self, "_hash", cached)
        return cached

    @property
    def encrypted(self) -> bool:
        return self.key is not None


@dataclass
class Params:
    """The binary parameters (keys) a governed query binds; values never print."""

    prefix: str = "lg_k"
    values: dict[str, bytes] = field(default_factory=dict, repr=False)
    _by_value: dict[bytes, str] = field(default_factory=dict, repr=False)

    def add(self, value: bytes) -> exp.Placeholder:
        """A parameter marker for ``value`` (the same value gets the same marker)."""
        name = self._by_value.get(value)
        if name is None:
            name = f"{self.prefix}{len(self.values)}"
            self.values[name] = value
            self._by_value[value] = name
        return exp.Placeholder(this=name)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.values)


@dataclass(frozen=True)
class TableKeys:
    """Parameter markers for one table's keys: data keys by key name, the two HMAC pads."""

    data_keys: Mapping[str, exp.Placeholder] = field(default_factory=dict)
    hash_inner: exp.Placeholder | None = None
    hash_outer: exp.Placeholder | None = None


#: Byte translations XOR-ing every byte with HMAC's ipad (0x36) and opad (0x5C).
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer padded keys of HMAC-SHA-256 (RFC 2104)."""
    if len(key) > _HMAC_BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_HMAC_BLOCK, b"\0")
    return key.translate(_IPAD), key.translate(_OPAD)


def spark_type(dtype: pa.DataType) -> exp.DataType:
    """The Spark SQL type of an Arrow contract type."""
    if pa.types.is_boolean(dtype):
        text = "BOOLEAN"
    elif pa.types.is_int8(dtype):
        text = "TINYINT"
    elif pa.types.is_int16(dtype):
        text = "SMALLINT"
    elif pa.types.is_int32(dtype):
        text = "INT"
    elif pa.types.is_int64(dtype):
        text = "BIGINT"
    elif pa.types.is_float32(dtype):
        text = "FLOAT"
    elif pa.types.is_float64(dtype):
        text = "DOUBLE"
    elif pa.types.is_decimal(dtype):
        text = f"DECIMAL({dtype.precision}, {dtype.scale})"
    elif pa.types.is_date(dtype):
        text = "DATE"
    elif pa.types.is_timestamp(dtype):
        text = "TIMESTAMP" if dtype.tz else "TIMESTAMP_NTZ"
    elif pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        text = "BINARY"
    else:
        text = "STRING"
    return exp.DataType.build(text, dialect="spark")


def _col(source: str, name: str) -> exp.Column:
    return exp.column(name, table=source, quoted=True)


def _cast(value: exp.Expr, to: str | exp.DataType) -> exp.Cast:
    dtype = to if isinstance(to, exp.DataType) else exp.DataType.build(to, dialect="spark")
    return exp.Cast(this=value, to=dtype)


def _is_binary(dtype: pa.DataType) -> bool:
    return bool(pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype))


def _decrypt(column: ColumnSpec, stored: exp.Expr, keys: TableKeys) -> exp.Expr:
    key = keys.data_keys.get(column.key or "")
    if key is None:
        raise KeyError(f"no data key for column {column.name}")
    return exp.Anonymous(this="try_aes_decrypt", expressions=[stored, key, exp.Literal.string("GCM")])


def _plain_bytes(column: ColumnSpec, stored: exp.Expr, keys: TableKeys) -> exp.Expr:
    """The value's bytes: the decrypted plaintext of an encrypted column, else the UTF-8 of its text."""
    if column.encrypted:
        return _decrypt(column, stored, keys)
    if _is_binary(column.type):
        return stored
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return _cast(stored, "BINARY")
    return _cast(_cast(stored, "STRING"), "BINARY")


def clear_value(column: ColumnSpec, stored: exp.Expr, keys: TableKeys) -> exp.Expr:
    """The value in clear, with its contract type (decrypted if stored encrypted)."""
    if not column.encrypted:
        return stored
    plain = _decrypt(column, stored, keys)
    if _is_binary(column.type):
        return plain
    text = _cast(plain, "STRING")
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return text
    # TRY_CAST: a value that does not parse becomes NULL; a failing CAST would put
    # the clear text into an error message, also for callers who see it masked.
    return exp.TryCast(this=text, to=spark_type(column.type))


def _text(column: ColumnSpec, stored: exp.Expr, keys: TableKeys) -> exp.Expr:
    if column.encrypted:
        return _cast(_decrypt(column, stored, keys), "STRING")
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return stored
    return _cast(stored, "STRING")


def hmac_hex(message: exp.Expr, inner: exp.Placeholder, outer: exp.Placeholder) -> exp.Expr:
    """``hex(HMAC-SHA-256(key, message))`` in lower case, from the padded keys."""
    inner_hash = exp.Anonymous(this="sha2", expressions=[exp.Concat(expressions=[inner, message]),
                                                        exp.Literal.number(256)])
    return exp.Anonymous(
        this="sha2",
        expressions=[exp.Concat(expressions=[outer, exp.Unhex(this=inner_hash)]), exp.Literal.number(256)],
    )


def needs_data_key(column: ColumnSpec, mask: Mask | None) -> bool:
    """Whether showing ``column`` under ``mask`` decrypts it."""
    if not column.encrypted or mask is None:
        return False
    return mask.kind in (MaskKind.DECRYPT, MaskKind.HASH, MaskKind.PARTIAL)


def masked_value(column: ColumnSpec, mask: Mask | None, stored: exp.Expr, keys: TableKeys) -> exp.Expr:
    """The expression that shows ``column`` under ``mask``.

    Args:
        column: The column (contract type, PII tag, encryption).
        mask: The subject's mask; ``None`` is clear for a non-PII column and
            ``redact`` for a PII one (never the stored ciphertext).
        stored: The stored column.
        keys: Parameter markers for the keys this mask needs.
    """
    kind = mask.kind if mask is not None else None
    if kind is None and column.pii:
        kind = MaskKind.REDACT
    if kind is None or (kind is MaskKind.DECRYPT and not column.encrypted):
        return stored
    if kind is MaskKind.DECRYPT:
        return clear_value(column, stored, keys)
    if kind is MaskKind.NULL:
        return _cast(exp.Null(), spark_type(column.type))
    if kind is MaskKind.REDACT:
        return exp.Case(
            ifs=[exp.If(this=exp.Is(this=stored.copy(), expression=exp.Null()), true=_cast(exp.Null(), "STRING"))],
            default=exp.Literal.string(REDACTED_TEXT),
        )
    if kind is MaskKind.HASH:
        assert keys.hash_inner is not None and keys.hash_outer is not None
        return hmac_hex(_plain_bytes(column, stored, keys), keys.hash_inner, keys.hash_outer)
    assert mask is not None and kind is MaskKind.PARTIAL
    return exp.Concat(expressions=[
        exp.Literal.string(REDACTED_TEXT),
        exp.Anonymous(this="right", expressions=[_text(column, stored, keys), exp.Literal.number(mask.keep_last)]),
    ])


def stored_column(source: str, name: str) -> exp.Column:
    """A stored column of the raw source view."""
    return _col(source, name)
