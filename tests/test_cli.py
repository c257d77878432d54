import json

import pytest

from automl_kit.cli import build_parser, main


def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"datasets", "evolve"} <= set(commands)
    for name in commands:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        assert "usage: automl-kit " + name in capsys.readouterr().out


def test_datasets_command_lists_digits(capsys, tmp_path):
    assert main(["datasets", "--json", "--data-dir", str(tmp_path)]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["digits"]["offline"] is True
    assert rows["mnist"]["offline"] is False or "keras cache" in rows["mnist"]["location"]


def test_datasets_command_with_shared_files(capsys, data_dir):
    assert main(["datasets", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "mnist" in out and "28x28x1" in out
