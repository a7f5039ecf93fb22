"""The command line's dispatcher (rstref.cli): lazy sub-commands."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rstref import cli

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(argv):
    code = (
        "import sys, rstref.cli\n"
        f"try:\n    rstref.cli.main({argv!r})\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('rstref', 'numba', 'scipy')))))"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.strip().splitlines()[-1].split())  # the module list (after any help text)


def test_top_level_help_imports_no_sub_command():
    loaded = _modules_after(["--help"])
    assert not any(m.startswith("rstref._commands") for m in loaded), loaded
    assert "numba" not in loaded and "scipy" not in loaded


def test_sub_command_imports_only_its_module():
    loaded = _modules_after(["sph", "--help"])
    assert "rstref._commands.sph" in loaded
    others = {module for name, (module, _) in cli.COMMANDS.items() if name != "sph"}
    assert not loaded & others


def test_every_sub_command_has_help(capsys):
    for name in cli.COMMANDS:
        with pytest.raises(SystemExit) as stop:
            cli.main([name, "--help"])
        assert stop.value.code == 0
        assert f"usage: rstref {name}" in capsys.readouterr().out


def test_unknown_command_is_an_error(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["no-such-command"])
    assert stop.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
