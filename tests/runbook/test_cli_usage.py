"""A wrong flag shows the usage of the command it was given to; every command's help says
what its exit codes mean."""

from __future__ import annotations

import pytest

from runbook.cli import main


@pytest.mark.parametrize("command", ["scan", "run", "check", "report"])
def test_a_wrong_flag_shows_the_commands_usage(command: str, capsys) -> None:
    assert main([command, "--no-such-flag"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: pgrst-runbook {command} ")
    assert "unrecognized arguments: --no-such-flag" in err


@pytest.mark.parametrize("command", ["scan", "run", "check"])
def test_help_lists_the_exit_codes(command: str, capsys) -> None:
    assert main([command, "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "exit codes:" in out and "2 usage error" in out
