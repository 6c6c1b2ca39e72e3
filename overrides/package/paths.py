"""The URL paths the client sends to, for tools that build the same URLs (the conformance check does).

``TOKEN_PATH`` is the OAuth 2.0 token endpoint under the base URL; ``path_segment(name, value)`` is how an id
becomes one percent-encoded path segment (an id that cannot be one raises ``InvalidParameterError``).
"""

from ._auth import TOKEN_PATH
from ._paths import path_segment

__all__ = ["TOKEN_PATH", "path_segment"]
