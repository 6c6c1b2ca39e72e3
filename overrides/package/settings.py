"""How the client is configured: keyword arguments first, then these environment variables.

``Settings.resolve(...)`` applies the same rules as the clients' constructors (and raises the same
``ConfigurationError``), for tools that check a configuration before building a client.
"""

from ._settings import ENV_API_KEY, ENV_API_SECRET, ENV_API_TOKEN, ENV_BASE_URL, ENV_ORG_ID, ENV_SETTINGS, Settings

__all__ = ["ENV_API_KEY", "ENV_API_SECRET", "ENV_API_TOKEN", "ENV_BASE_URL", "ENV_ORG_ID", "ENV_SETTINGS", "Settings"]
