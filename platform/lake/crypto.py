"""Encryption of PII columns inside the lake files.

Each dataset has a 256-bit data key. The catalog stores it only wrapped: by
AWS KMS under the domain's key in S3 mode, or by a local master key file
(0600) otherwise. A PII value is stored as ``nonce‖ciphertext‖tag`` (12-byte
nonce, AES-256-GCM, 16-byte tag, no associated data), the layout Spark's
``aes_decrypt(col, key, 'GCM')`` reads.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lake.errors import ConfigError, LakegateError

NONCE_BYTES = 12
KEY_BYTES = 32


class DecryptionError(LakegateError):
    code = "decryption_failed"
    http_status = 500


class KeyProvider(Protocol):
    """Wraps and unwraps data keys with a master key it never hands out."""

    name: str

    def wrap(self, data_key: bytes, *, context: dict[str, str], key_id: str | None = None) -> tuple[bytes, str]:
        """Return the wrapped key and a reference to the master key used."""
        ...

    def unwrap(self, wrapped: bytes, *, context: dict[str, str], key_ref: str) -> bytes: ...


def _aad(context: dict[str, str]) -> bytes:
    return "&".join(f"{k}={v}" for k, v in sorted(context.items())).encode()


class LocalKeyProvider:
    """A master key in a local file readable by its owner only.

    The file is created with mode 0600 on first use; a file that others can
    read is refused, as is one of the wrong size.
    """

    name = "local"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._key: bytes | None = None

    def _load(self) -> bytes:
        if self._key is not None:
            return self._key
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(AESGCM.generate_key(bit_length=256))
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(
                f"master key file {self.path} has mode {oct(mode)}; it must be readable by its owner only (chmod 600)"
            )
        key = self.path.read_bytes()
        if len(key) != KEY_BYTES:
            raise ConfigError(f"master key file {self.path} must hold exactly {KEY_BYTES} bytes")
        self._key = key
        return key

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self._load()).hexdigest()[:16]

    def wrap(self, data_key: bytes, *, context: dict[str, str], key_id: str | None = None) -> tuple[bytes, str]:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(self._load()).encrypt(nonce, data_key, _aad(context)), self.fingerprint

    def unwrap(self, wrapped: bytes, *, context: dict[str, str], key_ref: str) -> bytes:
        if key_ref != self.fingerprint:
            raise DecryptionError(f"data key was wrapped by master key {key_ref}, not by {self.path}")
        try:
            return AESGCM(self._load()).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _aad(context))
        except InvalidTag as exc:
            raise DecryptionError("data key does not unwrap under the master key") from exc


class KmsKeyProvider:
    """Data keys wrapped by AWS KMS, with the dataset as encryption context."""

    name = "kms"

    def __init__(self, kms_client: Any) -> None:
        self._kms = kms_client

    def wrap(self, data_key: bytes, *, context: dict[str, str], key_id: str | None = None) -> tuple[bytes, str]:
        if not key_id:
            raise ConfigError("KMS wrapping needs the domain's KMS key id")
        out = self._kms.encrypt(KeyId=key_id, Plaintext=data_key, EncryptionContext=context)
        return bytes(out["CiphertextBlob"]), str(out["KeyId"])

    def unwrap(self, wrapped: bytes, *, context: dict[str, str], key_ref: str) -> bytes:
        out = self._kms.decrypt(CiphertextBlob=wrapped, EncryptionContext=context, KeyId=key_ref)
        return bytes(out["Plaintext"])


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _to_bytes_array(values: pa.Array | pa.ChunkedArray) -> list[bytes | None]:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        return values.to_pylist()  # type: ignore[no-any-return]
    as_text = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
    return [None if v is None else v.encode() for v in as_text.to_pylist()]


def encrypt_array(values: pa.Array | pa.ChunkedArray, key: bytes) -> pa.Array:
    """Encrypt each value (its UTF-8 text for non-binary types); nulls stay null."""
    aead = AESGCM(key)
    out: list[bytes | None] = []
    append = out.append
    urandom = os.urandom
    for v in _to_bytes_array(values):
        if v is None:
            append(None)
        else:
            nonce = urandom(NONCE_BYTES)
            append(nonce + aead.encrypt(nonce, v, None))
    return pa.array(out, type=pa.binary())


def decrypt_array(values: pa.Array | pa.ChunkedArray, key: bytes, to_type: pa.DataType) -> pa.Array:
    """Inverse of :func:`encrypt_array`, cast back to the contract type."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    aead = AESGCM(key)
    plain: list[bytes | None] = []
    try:
        for v in values.to_pylist():
            plain.append(None if v is None else aead.decrypt(v[:NONCE_BYTES], v[NONCE_BYTES:], None))
    except InvalidTag as exc:
        raise DecryptionError("a PII value does not decrypt under the dataset's data key") from exc
    if pa.types.is_binary(to_type):
        return pa.array(plain, type=pa.binary())
    text = pa.array([None if p is None else p.decode() for p in plain], type=pa.string())
    return text if pa.types.is_string(to_type) else pc.cast(text, to_type)
