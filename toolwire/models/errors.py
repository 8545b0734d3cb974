"""The one error model loading raises: its message names the path and is fit to show a user."""


class ModelLoadError(Exception):
    pass
