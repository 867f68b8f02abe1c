"""Experiments as thin recipes over the library's stages (torchtune's model): each one is a package
run from the repository root, ``python -m recipes.<name>``, and imported by its tests. Not part of
the installed ``bert2dnn_ray``."""
