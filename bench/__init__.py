"""Benchmarks (not tests). Run each as a module from the repository root: ``python -m bench.<name>``
(a script path would let ``bench/<name>.py`` shadow the package of the same name)."""
