"""A reader of rstref's exported conformance data, written against the manifests alone.

It imports numpy, json and hashlib only (never rstref), as a C++, Julia or Rust reader
would: ``python conformance_reader.py REFERENCE_DIR CANDIDATE_DIR``.  CANDIDATE_DIR holds
an implementation's outputs at the same relative paths as the reference outputs
(``<table>/<output>.npy``).  For every table it checks the input checksums, then every
output present in the candidate against ``|candidate - reference| <= tolerance``; it prints
one line per output and exits 1 on any failure (2 on a damaged reference).
"""

import hashlib
import json
import os
import sys

import numpy as np


def load(root, entry):
    path = os.path.join(root, entry["file"])
    with open(path, "rb") as fh:
        data = fh.read()
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise ValueError(f"checksum mismatch: {entry['file']}")
    array = np.load(path, allow_pickle=False)
    if list(array.shape) != entry["shape"] or str(array.dtype) != entry["dtype"]:
        raise ValueError(f"shape/dtype mismatch: {entry['file']}")
    return array


def check_table(reference, candidate, manifest):
    arrays = manifest["arrays"]
    inputs = "".join(arrays[k]["sha256"] for k in manifest["inputs"])
    if hashlib.sha256(inputs.encode()).hexdigest() != manifest["input_sha256"]:
        raise ValueError(f"{manifest['table']}: input checksum mismatch")
    for key in manifest["inputs"]:
        load(reference, arrays[key])
    failures, checked = 0, 0
    for key, out in sorted(manifest["outputs"].items()):
        ref = load(reference, arrays[out["reference"]])
        tol = load(reference, arrays[out["tolerance"]])
        path = os.path.join(candidate, arrays[out["reference"]]["file"])
        if not os.path.exists(path):
            print(f"{manifest['table']}/{key}: not provided")
            continue
        cand = np.load(path, allow_pickle=False)
        checked += 1
        if cand.shape != ref.shape:
            print(f"{manifest['table']}/{key}: FAIL shape {cand.shape}, expected {ref.shape}")
            failures += 1
            continue
        err = np.abs(cand - ref)
        bad = ~(err <= tol)  # NaN counts as a failure
        ratio = float(np.max(np.where(np.isfinite(err), err / np.maximum(tol, 1e-300), np.inf)))
        if bad.any():
            worst = np.unravel_index(int(np.argmax(np.where(np.isfinite(err), err, np.inf))), err.shape)
            print(f"{manifest['table']}/{key}: FAIL {int(bad.sum())} entries beyond tolerance, worst at "
                  f"{tuple(int(i) for i in worst)}: error {err[worst]:.3g}")
            failures += 1
        else:
            print(f"{manifest['table']}/{key}: pass (worst error/tolerance {ratio:.3g})")
    return failures, checked


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    reference, candidate = argv
    with open(os.path.join(reference, "index.json")) as fh:
        index = json.load(fh)
    failures = checked = 0
    for name in index["tables"]:
        with open(os.path.join(reference, name)) as fh:
            manifest = json.load(fh)
        try:
            f, c = check_table(reference, candidate, manifest)
        except ValueError as exc:
            print(f"damaged reference: {exc}")
            return 2
        failures, checked = failures + f, checked + c
    print(f"{checked} outputs checked, {failures} failed")
    return 1 if failures or not checked else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
