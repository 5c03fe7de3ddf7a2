"""Who this browser is: a random token kept in a cookie (its runs are its own), and the admin
password a tab may have given."""

from __future__ import annotations

import re
import secrets

import streamlit as st

from dashboard.server_state import registry

TOKEN_KEY, OWNER_COOKIE = "browser_token", "rnn_owner"
TOKEN_PATTERN = re.compile(r"[0-9a-f]{32}")
ADMIN_KEY = "admin_password"


# ----- who this browser is ------------------------------------------------------------------


def browser_token() -> str:
    """This browser's secret, kept in a cookie: runs it starts are its own, in every tab."""
    token = st.session_state.get(TOKEN_KEY)
    if token is None:
        cookie = _cookie()
        token = cookie if cookie and TOKEN_PATTERN.fullmatch(cookie) else secrets.token_hex(16)
        st.session_state[TOKEN_KEY] = token
    return token


def _cookie() -> str | None:
    value = st.context.cookies.get(OWNER_COOKIE)
    return value if isinstance(value, str) else None  # AppTest has no browser, so no cookies


def remember_browser() -> None:
    """Writes the token into a cookie the first time, so a reload or a new tab keeps it."""
    token = browser_token()
    if _cookie() != token:
        st.html(
            f"<script>document.cookie = '{OWNER_COOKIE}={token}; path=/; max-age=31536000; SameSite=Strict';</script>",
            unsafe_allow_javascript=True,
        )


def admin_password() -> str | None:
    return st.session_state.get(ADMIN_KEY) or None


def may_change(run_id: str) -> bool:
    return registry().may_change(run_id, browser_token(), admin_password())
