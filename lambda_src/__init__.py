"""The built-in pipeline's three functions and their shared modules, as Lambda runs them: each
zip holds these files at its root and they import each other by top-level name.

This file only makes the folder the package `orderpoc.lambda_src` in the wheel and in an editable
install (setup.py maps it); it is left out of every function zip and of `orderpoc init`'s copy.
"""
