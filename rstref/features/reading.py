"""Reading feature files: :func:`open_features` for ``.npz`` files and Zarr stores.

Both hold the arrays of :mod:`rstref.features.storage` (format ``rstref-features/3``);
older formats are returned in the current layout (docs/gradients.md).
"""

import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

from rstref.features.results import Features
from rstref.features.store_rows import READABLE_FORMATS, _length, _require_zarr, stored_offsets


@dataclass
class StoredFeatures(Features):
    """:class:`Features` read from a file or store (:func:`open_features`).

    Attributes
    ----------
    attrs : dict
        Hyperparameters, species, feature label names, rstref version, provenance, ...
    extra : dict
        The other arrays (positions, cells, pbc, feature_labels, ...).

    Arrays may be dask arrays (a lazily read Zarr store): ``.compute()`` them, or slice first.
    """

    attrs: Optional[dict] = None
    extra: Optional[dict] = None

    def arrays(self):
        """The non-None feature arrays (not ``attrs`` and ``extra``) as a dict."""
        return {k: getattr(self, k) for k in _FEATURE_FIELDS if getattr(self, k) is not None}


_FEATURE_FIELDS = ("features", "atom_offsets", "atomic_numbers", "gradient_centers",
                   "gradient_neighbors", "gradient_values", "strain_derivatives",
                   "self_gradients", "gradient_channels", "gradient_offsets",
                   "self_gradient_offsets", "environment_channels", "feature_channels")
#: what files hold besides the Features fields: row starts, and the table of format 2
_STORED_FIELDS = _FEATURE_FIELDS + ("gradient_starts", "self_gradient_starts",
                                    "gradient_feature_index")
#: small arrays read at once from a lazily opened store
_INDEX_FIELDS = ("atom_offsets", "atomic_numbers", "gradient_feature_index", "feature_channels",
                 "gradient_starts", "self_gradient_starts", "environment_channels",
                 "gradient_centers", "gradient_neighbors", "gradient_channels")
_JSON_KEYS = ("hyperparameters", "feature_label_names", "input_files", "failures")


def open_features(path, lazy=None):
    """Features written by ``rstref featurize`` or :meth:`rstref.Featurizer.compute_to`.

    Parameters
    ----------
    path : str
        A ``.npz`` file or a ``.zarr`` store.
    lazy : bool, optional
        Zarr only: dask arrays (True; needs dask), numpy arrays read now (False), default
        dask where it is installed.

    Returns
    -------
    StoredFeatures
        A :class:`rstref.features.Features` (the committed rows of a Zarr store) with
        ``attrs`` (hyperparameters, species, provenance, ...) and ``extra`` (the other
        arrays: positions, cells, feature_labels, ...).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        return _open_zarr(path, lazy)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"open_features: no such file or store: {path!r}")
    return _open_npz(path)


def _open_npz(path):
    import json

    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    fields = _current_layout({k: arrays.pop(k) for k in _STORED_FIELDS if k in arrays})
    attrs = {}
    for key in list(arrays):
        if arrays[key].dtype.kind == "U" and arrays[key].ndim == 0:
            text = str(arrays.pop(key))
            attrs[key] = json.loads(text) if key in _JSON_KEYS else text
    return StoredFeatures(**fields, attrs=attrs, extra=arrays)


def _open_zarr(path, lazy):
    zarr = _require_zarr()
    group = zarr.open_group(path, mode="r")
    attrs = dict(group.attrs)
    if attrs.get("format") not in READABLE_FORMATS:
        raise ValueError(f"{path!r} is not an rstref feature store (format {attrs.get('format')!r})")
    if lazy is None:
        try:
            import dask.array  # noqa: F401
            lazy = True
        except ImportError:
            lazy = False
    if lazy:
        import dask.array as da
    committed = attrs["committed"]
    kinds = {name: spec[2] for name, spec in attrs["arrays"].items()}
    arrays = {}
    for name in list(kinds) + [k for k in ("feature_labels", "gradient_feature_index",
                                           "feature_channels") if k in group]:
        array = group[name]
        n = _length(kinds[name], committed) if name in kinds else array.shape[0]
        arrays[name] = da.from_zarr(array)[:n] if lazy else array[:n]
    fields = {k: arrays.pop(k) for k in _STORED_FIELDS if k in arrays}
    if lazy:  # small index arrays are read now
        for key in _INDEX_FIELDS:
            if key in fields:
                fields[key] = fields[key].compute()
    fields = _current_layout(fields)
    return StoredFeatures(**fields, attrs=attrs, extra=arrays)


def _current_layout(fields):
    """Stored fields as :class:`Features` fields: the row starts of format 3 as offsets;
    format 2 (rows over every feature of a channel) and format 1 (dense rows, ``(i, i)``
    included) in the flat layout (:mod:`rstref.features.sparsity`)."""
    from rstref.features.sparsity import rectangular_rows, split_dense_rows

    if "gradient_values" not in fields:
        return fields
    if "gradient_starts" in fields:
        fields = dict(fields)
        fields["gradient_offsets"] = stored_offsets(fields.pop("gradient_starts"),
                                                    fields["gradient_values"].shape[0])
        fields["self_gradient_offsets"] = stored_offsets(fields.pop("self_gradient_starts"),
                                                         fields["self_gradients"].shape[0])
        return fields
    if "self_gradients" in fields:
        return rectangular_rows(fields)
    return {**fields, **split_dense_rows(fields["gradient_centers"], fields["gradient_neighbors"],
                                         fields["gradient_values"])}
