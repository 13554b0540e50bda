from __future__ import annotations

import os
import stat
from pathlib import Path

import pyarrow as pa
import pytest

from lake.crypto import DecryptionError, LocalKeyProvider, decrypt_array, encrypt_array, new_data_key
from lake.errors import ConfigError


def test_master_key_file_is_created_owner_only(tmp_path: Path) -> None:
    keys = LocalKeyProvider(tmp_path / "k" / "master.key")
    wrapped, ref = keys.wrap(b"x" * 32, context={"lakegate:dataset": "a.b"})
    assert stat.S_IMODE((tmp_path / "k" / "master.key").stat().st_mode) == 0o600
    assert keys.unwrap(wrapped, context={"lakegate:dataset": "a.b"}, key_ref=ref) == b"x" * 32
    with pytest.raises(DecryptionError):
        keys.unwrap(wrapped, context={"lakegate:dataset": "other.b"}, key_ref=ref)


def test_readable_master_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_bytes(os.urandom(32))
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        LocalKeyProvider(path).wrap(b"x" * 32, context={})


def test_values_encrypt_with_fresh_nonces_and_round_trip() -> None:
    key = new_data_key()
    values = pa.array(["a@example.com", None, "a@example.com"])
    enc = encrypt_array(values, key)
    assert enc.type == pa.binary() and enc[1].as_py() is None
    assert enc[0].as_py() != enc[2].as_py()  # nonce differs: equal inputs do not look equal
    assert len(enc[0].as_py()) == 12 + len("a@example.com") + 16  # nonce‖ciphertext‖tag
    assert decrypt_array(enc, key, pa.string()).to_pylist() == values.to_pylist()
    with pytest.raises(DecryptionError):
        decrypt_array(enc, new_data_key(), pa.string())


def test_non_string_pii_round_trips() -> None:
    key = new_data_key()
    values = pa.array([1, None, 42], pa.int64())
    assert decrypt_array(encrypt_array(values, key), key, pa.int64()).to_pylist() == [1, None, 42]
