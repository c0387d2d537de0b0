"""``perfgate sim``: serve the simulated runtime (Ollama + OpenAI APIs) on loopback until interrupted."""

from __future__ import annotations

import argparse

from pydantic import ValidationError

from perfgate.commands import Console, Outcome
from perfgate.config import PerfgateConfig
from perfgate.errors import UsageError
from perfgate.sim.profile import SimProfile

# SimProfile fields that are flags of `perfgate sim` (the model has its own flag).
PROFILE_FLAGS: tuple[str, ...] = tuple(name for name in SimProfile.model_fields if name != "model")


def execute(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    from perfgate.sim.server import serve  # noqa: PLC0415 -- the server's imports only for this command

    overrides = {key: getattr(args, key) for key in PROFILE_FLAGS if getattr(args, key, None) is not None}
    try:
        profile = SimProfile.from_config(config.sim, model=args.model or config.runtime.model, **overrides)
    except ValidationError as exc:  # the flags are checked as they are read; this is the config's [sim] and --model
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise UsageError(f"invalid simulator setting '{field}': {first['msg']} (got {first.get('input')!r})") from exc

    def ready(url: str) -> None:
        console.say(f"perfgate sim listening on {url}")
        console.out.flush()

    serve(profile, host=args.host, port=args.port, on_ready=ready)
    return Outcome()
