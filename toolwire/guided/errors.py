"""The one exception of the guided package: a constraint that cannot be built for a request."""

from __future__ import annotations


class GuidedDecodingError(ValueError):
    """A request's constraint cannot be built: a bad spec, or a schema the backend cannot compile.

    The server answers it with a 400. `tool` names the offending tool when there is one and `param`
    names the request field (``tools``, ``tool_choice``, ``response_format``, ``guided_json`` ...).
    """

    def __init__(self, message: str, *, tool: str | None = None, param: str | None = None):
        super().__init__(message)
        self.tool = tool
        self.param = param
