#!/usr/bin/env bash
# Best-effort install of the peers used by validation/ (never by rstref itself).
# Always exits 0: a peer that fails to install is reported SKIPPED by the validation
# scripts, so CI stays green when a registry or a wheel is unavailable.
#
# torch is installed ONLY as `torch==2.13.0` (the CPU wheel), first; the peers that
# depend on torch are then installed with torch pinned by a constraint file, so pip
# can neither upgrade it nor pull a CUDA build (or nvidia-* packages).
set -u
PY=${PYTHON:-python}

pip_install() {
    "$PY" -m pip install -q --disable-pip-version-check "$@" \
        || echo "install_peers: could not install: $* (validation reports it SKIPPED)"
}

start=$SECONDS
pip_install torch==2.13.0
constraints=$(mktemp)
echo "torch==2.13.0" > "$constraints"
if "$PY" -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '2.13.0' else 1)" 2>/dev/null; then
    pip_install -c "$constraints" e3nn
    pip_install -c "$constraints" sphericart-torch
else
    echo "install_peers: torch 2.13.0 not available; skipping e3nn and sphericart-torch"
fi
pip_install -c "$constraints" sphericart wigners
pip_install -c "$constraints" dscribe featomic
pip_install -c "$constraints" vesin matscipy
rm -f "$constraints"

if "$PY" -c "import torch, sys; sys.exit(0 if torch.version.cuda else 1)" 2>/dev/null; then
    echo "install_peers: WARNING: torch is a CUDA build ($("$PY" -c 'import torch; print(torch.__version__)'))"
fi
"$PY" - <<'EOF'
from importlib import metadata
names = ["torch", "e3nn", "sphericart", "sphericart-torch", "wigners", "dscribe", "featomic", "vesin", "matscipy"]
def version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"
print("install_peers: " + ", ".join(f"{n} {version(n)}" for n in names))
EOF
echo "install_peers: done in $((SECONDS - start)) s"
exit 0
