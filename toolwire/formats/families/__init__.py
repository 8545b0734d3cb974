"""The built-in families, a module (or, for a syntax of its own, a package) each.

Every module here is imported on the first use of a parser registry and registers its parsers; adding
a family is adding a file here (see ../README.md).
"""
