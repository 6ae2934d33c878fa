"""model/classroom/browser_id.py: signed ids are honoured, made-up or altered ones are not, and
without a deployment secret there is no id."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from model.classroom import browser_id as bid

SECRET = "0f" * 32
OTHER = "a1" * 32


def test_a_minted_cookie_verifies_with_its_secret_only() -> None:
    cookie = bid.mint(SECRET)
    browser, sig = cookie.split(".")
    assert len(browser) == 32 and int(browser, 16) >= 0 and len(sig) == 22
    assert bid.browser_id(cookie, SECRET) == browser
    assert bid.browser_id(f"{cookie}.1", SECRET) == browser  # with the process nginx adds
    assert bid.browser_id(cookie, OTHER) is None
    assert bid.mint(SECRET).split(".")[0] != browser  # every id is new


def test_the_signature_is_what_nginx_secure_link_md5_computes() -> None:
    browser = "0123456789abcdef0123456789abcdef"
    # secure_link_md5 "SECRET${id}SECRET": base64url of the binary MD5, no padding
    expected = base64.urlsafe_b64encode(
        hashlib.md5((SECRET + browser + SECRET).encode()).digest()).decode().rstrip("=")
    assert bid.signature(browser, SECRET) == expected
    assert bid.signature(browser, SECRET) != bid.signature(browser, OTHER)


@pytest.mark.parametrize("value", [
    None, "", "0123456789abcdef0123456789abcdef.0",  # the old unsigned form
    "0123456789abcdef0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAA",  # a made-up signature
    "0123456789ABCDEF0123456789ABCDEF.AAAAAAAAAAAAAAAAAAAAAA",
    "x" * 10_000, "../../etc/passwd", "\x00" * 60,
])
def test_malformed_or_made_up_values_are_no_id(value) -> None:
    assert bid.browser_id(value, SECRET) is None


def test_another_id_with_a_real_signature_is_no_id() -> None:
    cookie = bid.mint(SECRET)
    browser, sig = cookie.split(".")
    other = ("0" if browser[0] != "0" else "1") + browser[1:]
    assert bid.browser_id(f"{other}.{sig}", SECRET) is None
    # a changed signature character that carries data
    flipped = ("B" if sig[0] != "B" else "C") + sig[1:]
    assert bid.browser_id(f"{browser}.{flipped}", SECRET) is None


def test_the_secret_comes_from_the_file_the_environment_names(tmp_path, monkeypatch) -> None:
    cookie = bid.mint(SECRET)
    monkeypatch.delenv(bid.SECRET_FILE_ENV, raising=False)
    assert bid.browser_id(cookie) is None  # plain `streamlit run`: no secret, no id
    path = tmp_path / "browser_id.secret"
    monkeypatch.setenv(bid.SECRET_FILE_ENV, str(path))
    assert bid.browser_id(cookie) is None  # named but missing
    path.write_text(SECRET + "\n")
    os.chmod(path, 0o600)
    assert bid.browser_id(cookie) == cookie.split(".")[0]
    path.write_text("not a secret")
    os.utime(path, (1, 1))  # another version of the file is read again
    assert bid.browser_id(cookie) is None
    assert bid.read_secret(path) is None


def test_read_secret_reads_what_new_secret_makes(tmp_path) -> None:
    secret = bid.new_secret()
    assert len(secret) == 64 and secret != bid.new_secret()
    path = tmp_path / "s"
    path.write_text(secret)
    assert bid.read_secret(path) == secret
    assert bid.read_secret(tmp_path / "missing") is None
    path.write_bytes(b"\xff" * 64)
    assert bid.read_secret(path) is None
