"""The runtime's settings, read from its process environment (psutil's Process.environ)."""

from __future__ import annotations

import os

import psutil

from perfgate.measure.runtime_identity import OLLAMA_SETTINGS, read_runtime_settings


def test_settings_are_the_value_or_unset() -> None:
    env = {"OLLAMA_FLASH_ATTENTION": "1", "OLLAMA_KV_CACHE_TYPE": "q8_0", "HOME": "/Users/x"}
    settings = read_runtime_settings("ollama", 812, environ=lambda _pid: env)
    assert settings is not None
    assert list(settings) == list(OLLAMA_SETTINGS)
    assert settings["OLLAMA_FLASH_ATTENTION"] == "1"
    assert settings["OLLAMA_KV_CACHE_TYPE"] == "q8_0"
    assert settings["OLLAMA_NUM_PARALLEL"] == "unset"
    assert "HOME" not in settings
    assert "OLLAMA_KEEP_ALIVE" not in settings  # perfgate's per-request keep_alive overrides it


def test_another_users_environment_is_unknown_never_unset() -> None:
    def denied(pid: int) -> dict[str, str]:
        raise psutil.AccessDenied(pid)

    settings = read_runtime_settings("ollama", 812, environ=denied)
    assert settings == dict.fromkeys(OLLAMA_SETTINGS, "unknown")
    assert read_runtime_settings("ollama", None) == dict.fromkeys(OLLAMA_SETTINGS, "unknown")


def test_other_runtimes_have_no_settings() -> None:
    assert read_runtime_settings("llamacpp", 812) is None
    assert read_runtime_settings("sim", None) is None


def test_own_process_environment_is_read() -> None:
    # psutil reads the environment the process started with: this test process's own, set before it started
    # by pytest's parent, so only check that an unset variable reads as unset, not unknown.
    settings = read_runtime_settings("ollama", os.getpid())
    assert settings is not None
    assert "unknown" not in settings.values()
