"""The rows a batch adds to a feature store, shared by the writer of the store
(:mod:`rstref.features.storage`) and the Dask workers that write their own batches
(:mod:`rstref.features.worker_writes`)."""

#: largest block of rows handed to Zarr in one write
WRITE_BYTES = 64 * 2**20


def _require_zarr():
    try:
        import zarr
    except ImportError:
        raise ImportError("writing or reading .zarr feature stores needs zarr>=3 "
                          "(pip install 'rstref[dask]' or pip install 'zarr>=3')") from None
    if int(zarr.__version__.split(".")[0]) < 3:
        raise ImportError(f"rstref needs zarr>=3 for .zarr stores, found {zarr.__version__}")
    return zarr


def atom_rows(result, base, gradients, stress):
    """``name -> rows`` of a :class:`~rstref.features.Features` per atom and per gradient
    row, in the order they are written; gradient atom indices shifted by ``base``."""
    rows = {"features": result.features, "atomic_numbers": result.atomic_numbers}
    if gradients:
        rows["gradient_centers"] = result.gradient_centers + base
        rows["gradient_neighbors"] = result.gradient_neighbors + base
        rows["gradient_channels"] = result.gradient_channels
        rows["gradient_values"] = result.gradient_values
        rows["self_gradients"] = result.self_gradients
    if stress:
        rows["strain_derivatives"] = result.strain_derivatives
    return rows
