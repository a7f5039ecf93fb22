"""Writing conformance tables: .npy arrays, a JSON manifest per table, CSV copies.

Everything is written deterministically (no time stamps, no absolute paths, sorted JSON
keys, ``repr`` floats), so two exports from the same versions are byte-identical.
Format: docs/conventions.md, "Exported conformance data".
"""

import hashlib
import io
import json
import os

import numpy as np

FORMAT = "rstref-conformance/1"


def npy_bytes(array):
    """The .npy serialisation of ``array`` (C order, little-endian native dtype)."""
    buffer = io.BytesIO()
    np.save(buffer, np.array(array, order="C", copy=True), allow_pickle=False)
    return buffer.getvalue()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def csv_text(header, rows):
    """CSV with ``%.17g`` floats (round-trip exact) and plain ints."""
    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "%.17g" % float(v)
        return str(int(v)) if isinstance(v, (int, np.integer)) else str(v)

    lines = [",".join(header)] + [",".join(cell(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


class TableWriter:
    """Collects the arrays of one table, then writes them and the manifest."""

    def __init__(self, root, name, description):
        self.root, self.name = root, name
        self.manifest = {"format": FORMAT, "table": name, "description": description,
                         "arrays": {}, "inputs": [], "outputs": {}, "csv": []}
        os.makedirs(os.path.join(root, name), exist_ok=True)

    def array(self, key, value, layout, role="input", tolerance=None):
        """Add one array; ``role`` 'input' or 'output'; outputs may carry a tolerance array."""
        value = np.asarray(value)
        data = npy_bytes(value)
        rel = f"{self.name}/{key}.npy"
        with open(os.path.join(self.root, rel), "wb") as fh:
            fh.write(data)
        self.manifest["arrays"][key] = {"file": rel, "shape": list(value.shape), "dtype": str(value.dtype),
                                        "layout": layout, "sha256": sha256(data)}
        if role == "input":
            self.manifest["inputs"].append(key)
        elif role == "output":
            entry = {"reference": key}
            if tolerance is not None:
                tol_key = f"{key}_tolerance"
                self.array(tol_key, tolerance, f"absolute tolerance per entry of {key} (a 0-d array "
                           "applies to every entry)", role="tolerance")
                entry["tolerance"] = tol_key
            self.manifest["outputs"][key] = entry

    def csv(self, key, header, rows):
        rel = f"{self.name}/{key}.csv"
        with open(os.path.join(self.root, rel), "w", newline="\n") as fh:
            fh.write(csv_text(header, rows))
        self.manifest["csv"].append(rel)

    def set(self, **fields):
        self.manifest.update(fields)

    def close(self):
        inputs = "".join(self.manifest["arrays"][k]["sha256"] for k in self.manifest["inputs"])
        self.manifest["input_sha256"] = sha256(inputs.encode())
        path = os.path.join(self.root, f"{self.name}.json")
        with open(path, "w", newline="\n") as fh:
            fh.write(json.dumps(self.manifest, sort_keys=True, indent=1) + "\n")
        return f"{self.name}.json"


def write_index(root, manifests, provenance):
    with open(os.path.join(root, "index.json"), "w", newline="\n") as fh:
        fh.write(json.dumps({"format": FORMAT, "tables": manifests, "provenance": provenance},
                            sort_keys=True, indent=1) + "\n")
