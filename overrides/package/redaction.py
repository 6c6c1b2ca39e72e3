"""What the client treats as a secret, for tools built on it (the conformance check reports through it).

``scrub(value)`` is ``str(value)`` with the API secret, bearer tokens and the signature parameters of
presigned statement URLs replaced by ``REDACTED``. The client attaches a redacting filter to its own logger
and to httpx's, httpcore's and httpx-retries' loggers; ``set_log_redaction(False)`` switches that off for a
process that filters those loggers itself.
"""

from ._redact import REDACTED, scrub, set_log_redaction

__all__ = ["REDACTED", "scrub", "set_log_redaction"]
