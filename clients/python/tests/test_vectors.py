"""Cross-language vectors, without a server: every valid case of tests/vectors/envelope-v1.json
opens (its data key unwrapped here with the vector's key material, as the server would), every
invalid one is refused with the right error class, and every envelope-made-by-*.json opens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rekey_client import AuthenticationFailedError, CachePolicy, InvalidCiphertextError
from rekey_client._data_key import DATA_KEY_AAD, DataKey
from rekey_client._format import FormatError, parse_envelope
from rekey_client.envelope import _EnvelopeCore

from .conftest import VECTORS

SPEC_CASES: list[dict[str, Any]] = json.loads((VECTORS / "envelope-v1.json").read_text())
MADE_BY = sorted(VECTORS.glob("envelope-made-by-*.json"))
h = bytes.fromhex


def unwrap_locally(wrapped: bytes, key_material: bytes) -> bytes:
    """What the server's Decrypt(wrapped, DATA_KEY_AAD) does, with the vector's key material."""
    n = wrapped[4]
    header = wrapped[: 21 + n]
    try:
        return AESGCM(key_material).decrypt(header[-12:], wrapped[21 + n :], header + DATA_KEY_AAD)
    except InvalidTag:
        # The server answers a wrapped key that fails to unwrap with AUTHENTICATION_FAILED.
        raise AuthenticationFailedError("wrapped data key failed authentication") from None


def open_like_an_envelope(value: bytes, associated_data: bytes, key_material: bytes) -> bytes:
    """The envelope's own decrypt steps (parse, key-name check, data key, open), with the
    unwrapping done locally instead of by the server."""
    parsed = parse_envelope(value)
    core = _EnvelopeCore(parsed.key_name, CachePolicy(max_age=60), None)
    parsed = core._parse(value)
    key = DataKey(parsed.key_name, parsed.key_version, unwrap_locally(parsed.wrapped_key, key_material),
                  parsed.wrapped_key)  # fmt: skip
    return core._open(key, parsed, associated_data)


@pytest.mark.parametrize("case", [c for c in SPEC_CASES if c["type"] == "envelope"], ids=lambda c: c["description"])
def test_every_valid_spec_vector_opens(case: dict[str, Any]) -> None:
    value = h(case["value_hex"])
    parsed = parse_envelope(value)
    assert (parsed.key_name, parsed.key_version) == (case["key_name"], case["key_version"])
    assert parsed.wrapped_key == h(case["wrapped_key_hex"]), "the header's wrapped key is the vector's"
    assert unwrap_locally(parsed.wrapped_key, h(case["key_material_hex"])) == h(case["data_key_hex"])
    key = DataKey(case["key_name"], case["key_version"], h(case["data_key_hex"]), h(case["wrapped_key_hex"]))
    assert key._message_key(h(case["salt_hex"])) == h(case["message_key_hex"])
    assert key.open(parsed, h(case["associated_data_hex"])) == h(case["plaintext_hex"])
    assert open_like_an_envelope(value, h(case["associated_data_hex"]), h(case["key_material_hex"])) == h(
        case["plaintext_hex"]
    )


@pytest.mark.parametrize("case", [c for c in SPEC_CASES if c["type"] != "envelope"], ids=lambda c: c["description"])
def test_every_invalid_spec_vector_is_refused_with_its_error(case: dict[str, Any]) -> None:
    value = h(case["value_hex"])
    expected = case["expected_error"]
    if expected == "AuthenticationFailed":
        with pytest.raises(AuthenticationFailedError):
            open_like_an_envelope(value, h(case["associated_data_hex"]), h(case["key_material_hex"]))
        return
    # A structural refusal: InvalidCiphertextError, caused by the spec's named format error.
    core = _EnvelopeCore("customer.pii", CachePolicy(max_age=60), None)
    with pytest.raises(InvalidCiphertextError) as refused:
        core._parse(value)
    cause = refused.value.__cause__
    assert isinstance(cause, FormatError)
    assert cause.reason == expected
    if value:
        assert value.hex() not in str(refused.value), "errors never echo the value"


def test_the_vector_files_made_by_the_clients_are_present() -> None:
    assert any(p.name == "envelope-made-by-python.json" for p in MADE_BY), MADE_BY


@pytest.mark.parametrize("path", MADE_BY, ids=lambda p: p.name)
def test_every_value_made_by_any_client_opens(path: Path) -> None:
    made = json.loads(path.read_text())
    dk, wrapped = h(made["data_key_hex"]), h(made["wrapped_key_hex"])
    key = DataKey(made["key_name"], made["key_version"], dk, wrapped)
    assert len(made["cases"]) >= 4
    for case in made["cases"]:
        parsed = parse_envelope(h(case["value_hex"]))
        assert parsed.wrapped_key == wrapped, case["description"]
        ad = h(case["associated_data_hex"])
        assert key.open(parsed, ad) == h(case["plaintext_hex"]), case["description"]
        with pytest.raises(AuthenticationFailedError):
            _EnvelopeCore._open(key, parsed, ad + b"x")
