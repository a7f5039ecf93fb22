"""Shared helpers of the validation scripts: peers, machine info, timing, reports.

The validation scripts compare rstref with other implementations ("peers": sphericart,
e3nn, scipy, wigners, ...).  Peers are optional: a peer that cannot be imported is
reported as SKIPPED with the reason, never counted as passed.  Every script keeps a
``Report`` that counts comparisons that passed, failed and were skipped, prints a
summary and gives the process exit status (non-zero when anything failed).

Results go to ``validation/RESULTS.md``, one ``## ...`` section per topic; several
scripts (and several people) write there, so a section is replaced or appended under
a file lock and the other sections are left untouched.  When the environment variable
``RSTREF_RESULTS_FILE`` names a file, sections go there instead (``run_all.sh`` sets it
to a copy in a temporary directory, so a CI run leaves the tracked file untouched).
"""

import contextlib
import fcntl
import importlib
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

VALIDATION_DIR = Path(__file__).resolve().parent
RESULTS_PATH = VALIDATION_DIR / "RESULTS.md"

# make ``import rstref`` work when a script is run from a checkout that is not installed
_REPO_ROOT = VALIDATION_DIR.parent
if str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))


# ---------------------------------------------------------------------------------------
# peers
# ---------------------------------------------------------------------------------------

def import_peer(name, report=None):
    """Import the peer module ``name``; return it, or ``None`` if it cannot be imported.

    A failed import is recorded in ``report`` (if given) as a SKIPPED peer with the
    reason, and printed, so that a missing peer is never mistaken for a pass.
    """
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # ImportError, or a broken binary extension (OSError, ...)
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if report is not None:
            report.skip(name, f"not importable ({reason})")
        else:
            print(f"SKIPPED  {name}: not importable ({reason})")
        return None
    return module


def package_version(name):
    """Installed version of distribution ``name``, or ``'not installed'``."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


class Report:
    """Counts comparisons (passed / failed) and skipped peers of one validation script."""

    def __init__(self, title):
        self.title = title
        self.passed = []
        self.failed = []
        self.skipped = []

    def check(self, name, deviation, tolerance, detail=""):
        """Record one comparison: it passes iff ``deviation <= tolerance`` (NaN fails)."""
        ok = bool(np.isfinite(deviation) and deviation <= tolerance)
        (self.passed if ok else self.failed).append((name, deviation, tolerance, detail))
        status = "ok  " if ok else "FAIL"
        extra = f"  {detail}" if detail else ""
        print(f"{status}  {name}: max dev {deviation:.3e} (tol {tolerance:.1e}){extra}")
        return ok

    def fail(self, name, detail):
        """Record a comparison that could not be made or disagreed qualitatively."""
        self.failed.append((name, float("nan"), float("nan"), detail))
        print(f"FAIL  {name}: {detail}")

    def skip(self, name, reason):
        """Record a peer (or a comparison) that was not run, with the reason."""
        self.skipped.append((name, reason))
        print(f"SKIPPED  {name}: {reason}")

    def summary(self):
        """One line: counts of comparisons ok / failed and peers skipped."""
        return (f"{self.title} summary -- comparisons ok: {len(self.passed)}, "
                f"failed: {len(self.failed)}, skipped: {len(self.skipped)}")

    def exit_status(self):
        """Print the failures and the summary; return 1 if anything failed, else 0."""
        for name, dev, tol, detail in self.failed:
            numbers = f"dev {dev:.3e} tol {tol:.1e} " if np.isfinite(dev) else ""
            print(f"FAILED  {name}: {numbers}{detail}")
        for name, reason in self.skipped:
            print(f"SKIPPED  {name}: {reason}")
        print(self.summary())
        return 1 if self.failed else 0


# ---------------------------------------------------------------------------------------
# machine and versions
# ---------------------------------------------------------------------------------------

def cpu_model():
    """CPU model name from /proc/cpuinfo (or platform.processor())."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def available_cores():
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def machine_info(peers=(), threads=None):
    """One markdown paragraph: CPU, cores, Python, numpy/numba, rstref and peer versions."""
    import rstref

    packages = ["numpy", "numba", "scipy"] + [p for p in peers]
    versions = ", ".join(f"{p} {package_version(p)}" for p in packages)
    text = (f"Machine: {cpu_model()}, {available_cores()} cores available; "
            f"Python {platform.python_version()}; rstref {rstref.__version__} "
            f"(git {git_revision()}); {versions}.")
    if threads is not None:
        text += f" Threads: {threads}."
    return text


def git_revision():
    """Short git revision of the checkout, with '+dirty' if rstref/ has uncommitted changes."""
    import subprocess

    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=_REPO_ROOT,
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "rstref"],
                               cwd=_REPO_ROOT, timeout=10).returncode != 0
        return (rev + ("+dirty" if dirty else "")) if rev else "unknown"
    except Exception:
        return "unknown"


def utc_now():
    """Current UTC time as 'YYYY-MM-DD HH:MM UTC'."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


# ---------------------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------------------

def best_time(function, repeat=5, min_time=0.2, max_repeat=50):
    """Best wall time in seconds of ``function()`` over at least ``repeat`` calls.

    Calls continue (up to ``max_repeat``) until ``min_time`` seconds have been spent,
    so very fast calls are still measured several times.  The caller warms up
    (numba compilation, first-call allocations) before timing.
    """
    best = float("inf")
    spent = 0.0
    calls = 0
    while calls < repeat or (spent < min_time and calls < max_repeat):
        start = time.perf_counter()
        function()
        elapsed = time.perf_counter() - start
        best = min(best, elapsed)
        spent += elapsed
        calls += 1
    return best


# ---------------------------------------------------------------------------------------
# markdown
# ---------------------------------------------------------------------------------------

def time_interleaved(fns, repeat, min_time=1.0, max_repeat=30):
    """Best wall time and best CPU time (seconds) of each function in ``fns`` (a dict).

    Round-robin (a, b, c, a, b, c, ...) so that every library sees the same background
    load; each is warmed up first (compilation, first touch).  CPU time is the process
    CPU time (``time.process_time``, user + system, all threads), which on a shared,
    loaded machine is a steadier measure of the work than wall time; with one thread it
    is the single-core cost.
    """
    for fn in fns.values():
        fn()
    wall = {name: float("inf") for name in fns}
    cpu = dict(wall)
    rounds, spent = 0, 0.0
    while rounds < repeat or (spent < min_time and rounds < max_repeat):
        for name, fn in fns.items():
            c0, w0 = time.process_time(), time.perf_counter()
            fn()
            w1, c1 = time.perf_counter(), time.process_time()
            wall[name] = min(wall[name], w1 - w0)
            cpu[name] = min(cpu[name], c1 - c0)
            spent += w1 - w0
        rounds += 1
    return wall, cpu


def markdown_table(headers, rows):
    """A GitHub-markdown table; cells are converted with ``str``."""
    lines = ["| " + " | ".join(str(h) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


@contextlib.contextmanager
def _locked(path):
    import hashlib
    import tempfile

    # the lock lives outside the repository so that it never shows up in git status
    lock_path = Path(tempfile.gettempdir()) / f"rstref-results-{hashlib.sha1(str(path).encode()).hexdigest()[:12]}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _split_sections(text):
    """Split markdown into (preamble, [(heading, body), ...]) at lines starting '## '."""
    preamble, sections = [], []
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            sections.append([line.rstrip("\n"), []])
        elif sections:
            sections[-1][1].append(line)
        else:
            preamble.append(line)
    return "".join(preamble), [(h, "".join(b)) for h, b in sections]


def update_results_section(heading, body, path=None):
    """Replace the section ``heading`` of RESULTS.md with ``body``, or append it.

    ``heading`` is the full heading line (``'## Spherical harmonics: speed'``); only that
    section changes.  Default ``path``: ``$RSTREF_RESULTS_FILE`` if set, else
    ``validation/RESULTS.md``.  The read-modify-write runs under an exclusive file lock, and the
    file is replaced atomically.
    """
    if path is None:
        path = os.environ.get("RSTREF_RESULTS_FILE") or RESULTS_PATH
    path = Path(path)
    heading = heading.strip()
    if not heading.startswith("## "):
        raise ValueError(f"heading must start with '## ', got {heading!r}")
    new_body = "\n" + body.strip("\n") + "\n\n"
    with _locked(path):
        text = path.read_text() if path.exists() else ""
        if not text:
            text = ("# rstref validation results\n\nWritten by the scripts in `validation/`; "
                    "each section is regenerated by the script named in it.\n\n")
        preamble, sections = _split_sections(text)
        for i, (h, _) in enumerate(sections):
            if h.strip() == heading:
                sections[i] = (heading, new_body)
                break
        else:
            if preamble and not preamble.endswith("\n\n"):
                preamble = preamble.rstrip("\n") + "\n\n"
            sections.append((heading, new_body))
        out = preamble + "".join(h + "\n" + b for h, b in sections)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(out)
        os.replace(tmp, path)
