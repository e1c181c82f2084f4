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


@pytest.mark.parametrize("value", ["nan", "inf", "1e309", "-1", "0"])
def test_a_timeout_that_is_not_a_positive_finite_number_is_a_usage_error(value: str, capsys) -> None:
    assert main(["check", "--timeout", value]) == 2
    assert "positive, finite number of seconds" in capsys.readouterr().err


def test_ctrl_c_while_a_command_loads_exits_130_without_a_traceback(capsys, monkeypatch) -> None:
    import runbook.cli as cli

    def interrupted(command: str | None = None):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["scan"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"
