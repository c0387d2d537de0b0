"""Older results and baseline files, read as today's: each step takes one schema version to the next.

Version 2 (perfgate 0.2): the server-clock decode rate counts the n - 1 gaps
after the first token, as the client clock always did (Ollama's
``eval_duration`` and llama.cpp's ``predicted_ms`` run from the first token to
the last). A version-1 file's server-clock ``decode_tok_s`` was
``n / duration``; it becomes ``(n - 1) / duration`` and the old figure is kept
as ``server_reported_tok_s``. A baseline holds bare values per metric, so a
value is known to be from the server's clock when it differs from the
client-clock value of the same request (the two lists pair up when neither
dropped a value); a baseline whose lists do not pair up cannot be migrated
exactly and is refused with how to re-make it.

Version 3 (perfgate 0.3): a baseline records the measuring sessions its samples
came from (``sessions``); a version-2 baseline was one session, which is what
an absent record means.
"""

from __future__ import annotations

from typing import Any

from perfgate.errors import BadFileError

# JSON as read: the migrations work on plain data, before validation.
Json = dict[str, Any]


def migrate_results(data: Json, where: str) -> Json:  # noqa: ARG001 -- one Migration signature
    """A results file of any older schema version, brought to the current one."""
    if data.get("schema_version") == 1:
        data = _results_v1_to_v2(data)
    return data


def migrate_baseline(data: Json, where: str) -> Json:
    """A baseline file of any older schema version, brought to the current one."""
    if data.get("schema_version") == 1:
        data = _baseline_v1_to_v2(data, where)
    if data.get("schema_version") == 2:
        # Version 3 records the sessions a baseline was made from; an older one was one session.
        data = {**data, "schema_version": 3}
    return data


def _factor(tokens: object) -> float | None:
    """(n - 1) / n for a token count n, or None when n has no gap (or is not a count)."""
    if not isinstance(tokens, int | float) or tokens < 2:
        return None
    return (tokens - 1) / tokens


def _results_v1_to_v2(data: Json) -> Json:
    # Imported here: results imports this module to read files, so this one cannot import it first.
    from perfgate.contracts.results import Sample  # noqa: PLC0415
    from perfgate.contracts.summaries import summarise_samples  # noqa: PLC0415

    scenarios = []
    for scenario in data.get("scenarios") or []:
        if not isinstance(scenario, dict):
            scenarios.append(scenario)
            continue
        samples = [_sample_v1_to_v2(s) if isinstance(s, dict) else s for s in scenario.get("samples") or []]
        try:
            summaries = summarise_samples([Sample.model_validate(s) for s in samples])
            done = {**scenario, "samples": samples, "summaries": {k: v.model_dump() for k, v in summaries.items()}}
        except ValueError:  # an invalid sample: validation of the whole file will name it
            done = {**scenario, "samples": samples}
        scenarios.append(done)
    return {**data, "scenarios": scenarios, "schema_version": 2}


def _sample_v1_to_v2(sample: Json) -> Json:
    decode = sample.get("decode_tok_s")
    if sample.get("decode_source") != "server" or not isinstance(decode, int | float):
        return sample
    factor = _factor(sample.get("output_tokens"))
    out = {**sample, "server_reported_tok_s": decode}
    if factor is None:
        return {**out, "decode_tok_s": None, "decode_source": None, "decode_clock_ratio": None}
    ratio = sample.get("decode_clock_ratio")
    out["decode_tok_s"] = decode * factor
    if isinstance(ratio, int | float):
        out["decode_clock_ratio"] = ratio * factor
    return out


def _baseline_v1_to_v2(data: Json, where: str) -> Json:
    samples = data.get("samples")
    if not isinstance(samples, dict):
        return {**data, "schema_version": 2}
    migrated: Json = {}
    for scenario, metrics in samples.items():
        if not isinstance(metrics, dict) or "decode_tok_s" not in metrics:
            migrated[scenario] = metrics
            continue
        decode = list(metrics.get("decode_tok_s") or [])
        client = list(metrics.get("client_decode_tok_s") or [])
        tokens = list(metrics.get("output_tokens") or [])
        if len(client) != len(decode) or len(tokens) != len(decode):
            raise BadFileError(
                f"{where}: baseline file of schema_version 1 counts the decode rate of {scenario!r} the old way and "
                "cannot be converted exactly; re-make it: nox -s baseline -- --tier <tier>, and commit it"
            )
        values = []
        for value, on_client, n in zip(decode, client, tokens, strict=True):
            factor = _factor(n)
            values.append(value if value == on_client or factor is None else value * factor)
        migrated[scenario] = {**metrics, "decode_tok_s": values}
    return {**data, "samples": migrated, "schema_version": 2}
