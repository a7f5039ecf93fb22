"""``rstref compile`` and the first-run notice of ``rstref featurize``."""

import io
import os
import subprocess
import sys
import textwrap

import pytest

from rstref.cli import main


def _run(args, env_extra, cwd=None):
    env = dict(os.environ, **env_extra)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


def test_is_cached_follows_numbas_index(tmp_path):
    module = tmp_path / "tiny_kernel.py"
    module.write_text(textwrap.dedent("""
        from rstref._numba import njit

        @njit
        def twice(x):
            return 2 * x
    """))
    script = ("import sys; sys.path.insert(0, sys.argv[1]); import tiny_kernel as t; "
              "from rstref._numba import is_cached; a = is_cached(t.twice); t.twice(1.0); "
              "print(a, is_cached(t.twice))")
    cache = tmp_path / "cache"
    first = _run(["-c", script, str(tmp_path)], {"NUMBA_CACHE_DIR": str(cache)})
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == ["False", "True"]
    second = _run(["-c", script, str(tmp_path)], {"NUMBA_CACHE_DIR": str(cache)})
    assert second.stdout.split() == ["True", "True"]
    off = _run(["-c", script, str(tmp_path)], {"NUMBA_CACHE_DIR": str(cache), "RSTREF_NUMBA_CACHE": "0"})
    assert off.stdout.split() == ["False", "False"]


def test_compile_rejects_unknown_jobs(capsys):
    assert main(["compile", "--jobs", "demo,bogus"]) == 2
    assert "--jobs" in capsys.readouterr().err


def test_compile_refuses_when_the_cache_is_off(monkeypatch, capsys):
    monkeypatch.setenv("RSTREF_NUMBA_CACHE", "0")
    assert main(["compile", "--jobs", "featurize"]) == 2
    assert "RSTREF_NUMBA_CACHE" in capsys.readouterr().err


@pytest.mark.timeout(900)
def test_compile_fills_a_cold_cache_and_silences_the_featurize_notice(tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    notice = "from rstref._commands.compile import compile_notice; print(compile_notice() is None)"
    assert _run(["-c", notice], env).stdout.strip() == "False"
    done = _run(["-m", "rstref.cli", "compile", "--jobs", "featurize"], env)
    assert done.returncode == 0, done.stderr
    assert "ready in" in done.stdout and str(tmp_path / "cache") in done.stdout
    assert _run(["-c", notice], env).stdout.strip() == "True"


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _featurize_stderr(tmp_path, monkeypatch, stream, cold):
    from ase.build import molecule
    from ase.io import write

    import rstref._commands.compile as compile_module

    write(tmp_path / "w.xyz", molecule("H2O"))
    monkeypatch.setattr(compile_module, "compile_notice", lambda: "NOTICE" if cold else None)
    monkeypatch.setattr(sys, "stderr", stream)
    code = main(["featurize", str(tmp_path / "w.xyz"), "-o", str(tmp_path / "out.npz")])
    return code, stream.getvalue().splitlines()


def test_featurize_notice_is_printed_first_on_a_terminal_when_the_cache_is_cold(tmp_path, monkeypatch):
    code, lines = _featurize_stderr(tmp_path, monkeypatch, _Terminal(), cold=True)
    assert code == 0 and lines[0] == "rstref featurize: NOTICE"
    assert sum("NOTICE" in line for line in lines) == 1 and "features per atom" in lines[-1]


@pytest.mark.parametrize("terminal, cold", [(True, False), (False, True)])
def test_featurize_notice_is_absent_when_warm_or_not_on_a_terminal(tmp_path, monkeypatch, terminal, cold):
    code, lines = _featurize_stderr(tmp_path, monkeypatch, _Terminal() if terminal else io.StringIO(), cold)
    assert code == 0 and not any("NOTICE" in line for line in lines) and "features per atom" in lines[-1]
