"""The one exception of constrained decoding: a constraint that cannot be built for a request. It is
defined beside the grammar language (`toolwire.formats.grammar`), since families raise it too."""

from toolwire.formats.grammar import GuidedDecodingError

__all__ = ["GuidedDecodingError"]
