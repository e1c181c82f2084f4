"""The support bundle: contents, versions and plumbing from real parts, and no secret inside."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from runbook.steps.journal import Journal
from tests.diagnosis.conftest import execute, run_cli
from tests.diagnosis.synthetic import Logs, at

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIiwiaXNzIjoic3VwYWJhc2UifQ"
    ".c2lnbmF0dXJlLXRoYXQtaXMtc2VjcmV0"
)
API_KEY = "sb_secret_Zq8xLrT2vW9yKd3mNp"
DB_PASSWORD = "hunter2-Db-Pass"


def read_bundle(path: Path) -> dict[str, str]:
    with tarfile.open(path, "r:gz") as tar:
        out = {}
        for member in tar.getmembers():
            data = tar.extractfile(member)
            assert data is not None
            out[member.name.split("/", 1)[1]] = data.read().decode()
        return out


@pytest.fixture
def leaky_logs(tmp_path: Path) -> Path:
    """An incident whose logs carry a JWT, an apikey header and a DSN with a password."""
    logs = Logs(tmp_path / "logs")
    logs.ddl(at(10, 0), "ALTER TABLE public.items ADD COLUMN note text;")
    logs.postgrest_start(at(8, 0))
    logs.failures("items", "note", at(10, 2), at(10, 6))
    logs.app.insert(
        2,
        f"2026-09-01 10:03:00,001 INFO app.http: POST /items headers={{'apikey': '{API_KEY}', "
        f"'Authorization': 'Bearer {JWT}'}}",
    )
    logs.app.insert(
        3,
        "2026-09-01 10:03:30,002 INFO app.db: connecting to "
        f"postgresql://app:{DB_PASSWORD}@db.internal:5432/app",
    )
    return logs.write()


def test_bundle_from_logs_with_database_and_api_holds_no_secret(
    leaky_logs: Path,
    tmp_path: Path,
    db_dsn: str,
    pg_server,
    postgrest,
    capsys,
    monkeypatch,
    isolated_state: Path,
) -> None:
    execute(db_dsn, "CREATE TABLE items (id int PRIMARY KEY, note text)")
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    dbname = db_dsn.rsplit("/", 1)[1]
    secret_dsn = pg_server.dsn(dbname, user=pg_server.password_role, password=pg_server.password)
    journal = Journal.create(isolated_state)
    journal.append(
        "session",
        "started",
        target={"schema": "public", "table": "items", "column": "note"},
        data={"note": f"tried {secret_dsn} with apikey={API_KEY}"},
    )
    out = tmp_path / "support.tar.gz"

    result = run_cli(
        capsys, monkeypatch, "bundle", "--logs", str(leaky_logs), "--journal", journal.session,
        "--dsn", secret_dsn, "--api-url", server.url, "--api-key", API_KEY, "-o", str(out),
    )  # fmt: skip

    assert result.code == 0, result.err
    files = read_bundle(out)
    assert {
        "MANIFEST.md",
        "manifest.json",
        "scan.json",
        "diagnosis.json",
        "versions.json",
        "plumbing.json",
        f"journal/{journal.session}.jsonl",
    } <= set(files)
    assert any(name.startswith("excerpts/") for name in files)
    everything = "\n".join(files.values())
    for secret in (JWT, API_KEY, DB_PASSWORD, pg_server.password, "hunter2"):
        assert secret not in everything, secret
    assert "signature-that-is-secret" not in everything

    versions = json.loads(files["versions.json"])
    assert versions["postgresql"].startswith("PostgreSQL ")
    assert versions["postgrest_server_header"] == "postgrest/16.2"
    assert versions["postgrest_openapi_version"] == "16.2"
    assert versions["postgrest_in_logs"][0]["postgrest"] == "16.2"
    assert pg_server.password_role in versions["database"]
    plumbing = json.loads(files["plumbing.json"])
    assert plumbing["listening"] in (True, None)  # the password role may not see the query
    diagnosis = json.loads(files["diagnosis.json"])
    assert diagnosis[0]["verdict"] == "stale_cache" and diagnosis[0]["confidence"] == "likely"

    manifest = json.loads(files["manifest.json"])
    assert manifest["redacted"].get("JWT", 0) >= 1
    assert manifest["redacted"].get("password in a DSN or URL", 0) >= 1
    assert any("Supabase key" in k or "API key" in k for k in manifest["redacted"])
    names = [f["name"] for f in manifest["files"]]
    assert "scan.json" in names and "MANIFEST.md" not in names
    assert "## Redacted" in files["MANIFEST.md"] and "JWT" in files["MANIFEST.md"]
    excerpt = next(v for k, v in files.items() if k.startswith("excerpts/"))
    assert "***" in excerpt and "PGRST204" in excerpt


def test_never_overwrites_without_force(
    leaky_logs: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    out = tmp_path / "b.tar.gz"
    out.write_bytes(b"keep me")
    result = run_cli(capsys, monkeypatch, "bundle", "--logs", str(leaky_logs), "-o", str(out))
    assert result.code == 2 and "--force" in result.err
    assert out.read_bytes() == b"keep me"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".b.tar.gz")] == []

    result = run_cli(
        capsys, monkeypatch, "bundle", "--logs", str(leaky_logs), "-o", str(out), "--force"
    )
    assert result.code == 0, result.err
    files = read_bundle(out)
    notes = json.loads(files["manifest.json"])["not_gathered"]
    assert any(n.startswith("database: not given") for n in notes)
    assert any(n.startswith("API: not given") for n in notes)


def test_from_scan_document_and_unreachable_database(tmp_path: Path, capsys, monkeypatch) -> None:
    scan = run_cli(capsys, monkeypatch, "scan", "sample_logs/stale-cache", "--format", "json")
    doc_path = tmp_path / "scan.json"
    doc_path.write_text(scan.out)
    out = tmp_path / "b.tar.gz"
    result = run_cli(
        capsys, monkeypatch, "bundle", "--from-scan", str(doc_path), "-o", str(out),
        "--dsn", "postgresql://u:pw-Secret-9@127.0.0.1:1/x", "--timeout", "1",
    )  # fmt: skip
    assert result.code == 0, result.err
    files = read_bundle(out)
    assert "pw-Secret-9" not in "\n".join(files.values())
    notes = json.loads(files["manifest.json"])["not_gathered"]
    assert any(n.startswith("database: ") and "cannot connect" in n for n in notes)
    assert any(k.startswith("excerpts/") for k in files)
    assert json.loads(files["diagnosis.json"])[0]["verdict"] == "stale_cache"


def test_nothing_to_bundle_is_a_usage_error(tmp_path: Path, capsys, monkeypatch) -> None:
    for var in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"):
        monkeypatch.delenv(var, raising=False)
    result = run_cli(capsys, monkeypatch, "bundle", "-o", str(tmp_path / "x.tar.gz"))
    assert result.code == 2 and "nothing to bundle" in result.err
    assert not (tmp_path / "x.tar.gz").exists()
