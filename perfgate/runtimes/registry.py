"""Pick and open the runtime client a config asks for.

``sim`` starts perfgate's own simulated runtime in a child process for the
duration of the run and talks to it with the Ollama client, so the simulator
exercises exactly the code path a real Ollama does. ``llamacpp`` likewise
starts llama.cpp's own server (the optional ``xllamacpp`` extra) on a
generated or given GGUF and talks to it with the OpenAI client.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from perfgate.config import PerfgateConfig
from perfgate.runtimes.base import RuntimeClient
from perfgate.runtimes.clock import WaitClock
from perfgate.runtimes.ollama import OllamaClient
from perfgate.runtimes.openai import OpenAIClient


@dataclass(frozen=True)
class OpenRuntime:
    """A ready client, plus what the harness needs to find the runtime's process."""

    client: RuntimeClient
    simulated: bool
    managed_pid: int | None  # the PID of a runtime perfgate started itself


def _ollama(http: httpx.Client, config: PerfgateConfig, base_url: str) -> OllamaClient:
    rt = config.runtime
    return OllamaClient(
        http,
        base_url=base_url,
        model=rt.model,
        api=rt.ollama_api,
        keep_alive=rt.keep_alive,
        preflight_timeout_s=rt.preflight_timeout_s,
        connect_timeout_s=rt.connect_timeout_s,
        read_timeout_s=rt.read_timeout_s,
        clock=WaitClock(),
    )


@contextmanager
def open_runtime(config: PerfgateConfig) -> Iterator[OpenRuntime]:
    """Yield a client for the configured runtime; stop anything we started."""
    rt = config.runtime
    # Plain HTTP does no TLS, so a client that only talks to a runtime over http:// (perfgate's
    # own sim and llama.cpp servers always do) need not load the CA bundle: 30-70 ms and 1.2 MB
    # of the harness's own memory. An https:// runtime keeps full verification.
    plain_http = rt.kind in {"sim", "llamacpp"} or rt.base_url.startswith("http://")
    with httpx.Client(verify=not plain_http) as http:
        if rt.kind == "sim":
            from perfgate.sim.launch import SimProcess  # noqa: PLC0415 -- only sim runs need the launcher
            from perfgate.sim.profile import SimProfile  # noqa: PLC0415

            profile = SimProfile.from_config(config.sim, model=rt.model)
            with SimProcess(profile) as sim:
                yield OpenRuntime(_ollama(http, config, sim.base_url), simulated=True, managed_pid=sim.pid)
        elif rt.kind == "openai":
            client = OpenAIClient(
                http,
                base_url=rt.base_url,
                model=rt.model,
                preflight_timeout_s=rt.preflight_timeout_s,
                connect_timeout_s=rt.connect_timeout_s,
                read_timeout_s=rt.read_timeout_s,
                clock=WaitClock(),
            )
            yield OpenRuntime(client, simulated=False, managed_pid=None)
        elif rt.kind == "llamacpp":
            from perfgate.llamacpp import launch  # noqa: PLC0415 -- only llamacpp runs need the optional extra

            launch.require_xllamacpp()
            model_file = launch.resolve_model(config)
            alias = launch.served_alias(config, model_file)
            with launch.LlamaCppProcess(
                model_file.path, alias, ctx=launch.context_size(config), threads=launch.harness_friendly_threads()
            ) as server:
                client = launch.LlamaCppClient(
                    http,
                    base_url=server.base_url,
                    model=alias,
                    model_file=model_file,
                    server=server,
                    preflight_timeout_s=rt.preflight_timeout_s,
                    connect_timeout_s=rt.connect_timeout_s,
                    read_timeout_s=rt.read_timeout_s,
                    clock=WaitClock(),
                )
                yield OpenRuntime(client, simulated=False, managed_pid=server.pid)
        else:
            yield OpenRuntime(_ollama(http, config, rt.base_url), simulated=False, managed_pid=None)
