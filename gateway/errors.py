"""The exceptions every layer shares."""

from __future__ import annotations


class GatewayError(Exception):
    """Base class for the gateway's own errors."""


class ConfigError(GatewayError):
    """The configuration is unusable; `problems` holds one line per fault."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class TemporaryFailure(GatewayError):
    """Worth trying again later (connection refused, 4xx)."""


class PermanentFailure(GatewayError):
    """Will never succeed (5xx); record it and stop trying. `status` is the enhanced status
    code (RFC 3463) when the reply gave one, e.g. 5.1.1 (no such user), 5.7.1 (refused)."""

    def __init__(self, message: str, status: str = ""):
        super().__init__(message)
        self.status = status


class StageStop(GatewayError):
    """Raised by a pipeline stage to end the run for a message on purpose."""

    def __init__(self, kind: str, reason: str):
        self.kind = kind
        self.reason = reason
        super().__init__(f"{kind}: {reason}")


class Discard(StageStop):
    """Nothing more to do (automatic mail, a loop, a duplicate); the message is kept."""


class Hold(StageStop):
    """Keep it aside for a person to look at; nothing goes to the resident."""


class Reject(StageStop):
    """The message cannot be accepted as it stands; recorded with the reason."""


class Defer(StageStop):
    """Not now: the message goes back to wait `seconds` and is handled again (a sender whose
    check DNS could not answer). Nothing it caused so far is kept."""

    def __init__(self, reason: str, seconds: float, counted: bool = True):
        super().__init__("deferred", reason)
        self.seconds = seconds
        self.counted = counted   # False: not the message's fault (another daemon was busy with its like)
