import hashlib
import hmac

from payments.sandbox.signing import sign, signed_headers, signing_string, verify


def test_sign_is_hmac_sha256_of_the_protocol_string():
    expected = hmac.new(b"k", b'1700000000\nnonce-0123456789ab\nPOST\n/v1/payments\n{"a":1}', hashlib.sha256)
    assert sign("k", "1700000000", "nonce-0123456789ab", "post", "/v1/payments", '{"a":1}') == expected.hexdigest()
    assert signing_string(1, "n", "get", "/p", b"") == "1\nn\nGET\n/p\n"


def test_round_trip_and_bytes_body_equal_text_body():
    signature = sign("key", "1700000000", "abcdefghijklmnop", "POST", "notify", "{\"x\":\"价格\"}")
    assert verify("key", "1700000000", "abcdefghijklmnop", "POST", "notify", "{\"x\":\"价格\"}", signature)
    assert verify("key", "1700000000", "abcdefghijklmnop", "POST", "notify", "{\"x\":\"价格\"}".encode(), signature)
    assert verify("key", "1700000000", "abcdefghijklmnop", "POST", "notify", "{\"x\":\"价格\"}", signature.upper())


def test_any_tampering_is_rejected():
    args = ("key", "1700000000", "abcdefghijklmnop", "POST", "/v1/refunds", '{"amount":100}')
    signature = sign(*args)
    assert verify(*args, signature)
    tampered = [
        ("other", *args[1:]),
        (args[0], "1700000001", *args[2:]),
        (*args[:2], "abcdefghijklmnoq", *args[3:]),
        (*args[:3], "GET", *args[4:]),
        (*args[:4], "/v1/refunds/x", args[5]),
        (*args[:5], '{"amount":10000}'),
    ]
    for changed in tampered:
        assert not verify(*changed, signature)
    assert not verify(*args, signature[:-1] + ("0" if signature[-1] != "0" else "1"))
    assert not verify(*args, "")
    assert not verify(*args, "zz" * 32)
    assert not verify(*args, None)


def test_signed_headers_carry_a_verifiable_signature():
    headers = signed_headers("mch", "key", "GET", "/v1/payments/a", "", timestamp=1700000000, nonce="n" * 16)
    assert headers["X-Paysim-Mch"] == "mch"
    assert headers["X-Paysim-Timestamp"] == "1700000000"
    assert headers["X-Paysim-Nonce"] == "n" * 16
    assert verify("key", "1700000000", "n" * 16, "GET", "/v1/payments/a", "", headers["X-Paysim-Signature"])
