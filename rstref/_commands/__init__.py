"""Sub-commands of the ``rstref`` CLI; one module each (see rstref.cli)."""
