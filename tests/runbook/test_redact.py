"""Every kind of secret seen in real logs is masked, in Python and in the polars column pass
(the scan redacts columns natively; the screen, journal and report redact text): both alike."""

from __future__ import annotations

import polars as pl
import pytest

from runbook.redact import redact, redact_expr

SECRETS = {
    "aws key id": ("uploading with AKIAIOSFODNN7EXAMPLE now", "AKIAIOSFODNN7EXAMPLE"),
    "aws secret": ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtn"),
    "PGPASSWORD": ("PGPASSWORD=hunter2 psql -h db", "hunter2"),
    "DB_PASSWORD": ("env DB_PASSWORD=s3cr3t-value", "s3cr3t"),
    "query token": ("GET /functions/v1/x?token=abcdef123456&y=1", "abcdef123456"),
    "clickhouse key": ("X-ClickHouse-Key: chkey-0123456789", "chkey-0123456789"),
    "url password with @": ("postgresql://app:p@ss@db:5432/app", "p@ss"),
    "url password with /": ("postgresql://u:Pw/x@h/db", "Pw/x"),
    "quoted password, spaces": ("host=db password='a b c' dbname=app", "a b c"),
    "double-quoted password": ('password="correct horse" host=x', "correct horse"),
    "json password, spaces": ('{"password": "correct horse", "user": "app"}', "correct horse"),
    "supabase secret": ("apikey=sb_secret_abcdefgh1234", "sb_secret_abcdefgh1234"),
    "bearer": ("Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop"),
    "jwt": ("key eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJl", "eyJyb2xl"),
}
KEPT = [
    "duplicate key value violates unique constraint \"members_email_key\"",
    "Key (email)=(j.doe@example.org) already exists.",
    "token_count=5 tokens_left=3",
    "Could not find the 'telegram_handle' column of 'members' in the schema cache",
    "POST /rest/v1/members HTTP/1.1 400",
]


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_secret_is_masked_in_text_and_columns(kind: str) -> None:
    line, secret = SECRETS[kind]
    text = redact(line)
    column = pl.select(redact_expr(pl.lit(line))).item()
    assert text is not None and secret not in text and "***" in text
    assert column == text


@pytest.mark.parametrize("line", KEPT)
def test_ordinary_log_text_is_left_alone(line: str) -> None:
    assert redact(line) == line
    assert pl.select(redact_expr(pl.lit(line))).item() == line


@pytest.mark.parametrize(
    ("dsn", "secret"),
    [
        ("postgresql://u:Pw/x9secret@127.0.0.1:1/db", "x9secret"),  # libpq reads Pw as the port
        ("postgresql://u:p@ss9secret@127.0.0.1:1/db", "ss9secret"),
        ("host=127.0.0.1 port=1 password=a b9secret", "b9secret"),
        ("postgresql://u:Pw%zz9secret@127.0.0.1:1/db", "9secret"),
    ],
)
def test_dsns_libpq_misreads_never_show_their_password(dsn: str, secret: str, capsys) -> None:
    from runbook.cli import main

    main(["check", "--dsn", dsn, "--timeout", "2", "--json"])
    out = capsys.readouterr()
    assert secret not in out.out + out.err
