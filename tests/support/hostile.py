"""Hostile strings, and checks that Markdown and log text built from them left nothing live.

``live_markdown`` renders Markdown with a real CommonMark parser (markdown-it-py, with
GitHub's tables) and lists what a reader of GitHub would find live in it: a link, an
image, an autolink (``<https://…>`` or GitHub's bare ``https://…`` and ``www.``), HTML
that is not perfgate's own few tags, an ``@mention`` or a ``#123`` reference in text,
or a code fence of a language perfgate does not write. ``live_log`` lists the lines a
GitHub Actions runner would read as a workflow command, and every control character.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from markdown_it import MarkdownIt
from markdown_it.token import Token

from perfgate.config import GateConfig
from perfgate.contracts.gate import Change, GateReport, Problem, TierSummary, Verdict, VerdictKind
from perfgate.contracts.results import RunResult
from perfgate.decide.baseline import BaselineDiff, MetricDiff
from perfgate.decide.gate import gate_status
from perfgate.decide.headline import headline
from perfgate.errors import Kind
from support.synthetic import baseline_of, make_result

HOSTILE_MODEL = "qwen<script>alert(1)</script> [x](https://evil.example) @org/team #1 | pipe"
HOSTILE_ERROR = "runner said:\n```\nboom `rm -rf` --> <!-- x -->\r\n| col | @org/team ](https://evil.example)"
# Each alone, then all at once: what the reviewers put in every field a results file has.
HOSTILE = (
    HOSTILE_MODEL,
    HOSTILE_ERROR,
    "-->",
    "x --> <img src=x onerror=alert(1)> <!--",
    "``` `` ` ````",
    "`",
    "x`@octocat",
    "`<b>B</b>",
    "::error::pwned",
    "ok\n::error file=a.py::pwned\n::add-mask::secret\n  ::stop-commands::tok",
    "@octocat",
    "<img src=x onerror=alert(1)>",
    "[x](https://evil.example)",
    "![i](https://evil.example/i.png)",
    "<https://evil.example>",
    "https://evil.example www.evil.example user@evil.example",
    "line one\nline two\r\nline three\rfour",
    "\x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 \x9b2J",
    "##[error]legacy ##[add-mask]x",
    "&#64;octocat &lt;b&gt;",
    "_emphasis_ *strong* ~~gone~~ | a | b |",
)
ALL_AT_ONCE = " ".join(HOSTILE)

# ---------------------------------------------------------------- what a gate reads, every string hostile


def verdict(tier: str, scenario: str, metric: str, kind: VerdictKind, *, notes: tuple[str, ...] = ()) -> Verdict:
    return Verdict(
        tier=tier,
        scenario=scenario,
        metric=metric,
        unit="ms",
        direction="lower",
        informational=False,
        verdict=kind,
        threshold_worse=0.1,
        threshold_better=0.1,
        baseline_median=100.0,
        current_median=130.0,
        n_baseline=15,
        n_current=10,
        change=0.3,
        change_low=0.2,
        change_high=0.4,
        p_worse=0.001,
        p_worse_adjusted=0.004,
        notes=notes,
    )


def hostile_report(text: str) -> GateReport:
    """A gate whose every string from a results or baseline file is ``text`` (or holds it)."""
    tiers = [
        TierSummary(
            tier=text,
            results_files=(f"perf-results/{text}.json",),
            baseline_file=f"baselines/{text}.json",
            host_label=text,
            chip=text,
            runtime=f"ollama {text}",
            model=text,
            model_digest=text,
            git_sha=text,
            baseline_created_at=text,
            baseline_git_sha=text,
            warnings=(f"runtime_version differs from the baseline (0.5.1 → {text})",),
        ),
        TierSummary(tier="pro", host_label="perf-pro-1", model="qwen", git_sha="abc1234def"),
    ]
    verdicts = [
        verdict(text, text, "ttft_ms", VerdictKind.REGRESSED, notes=(text,)),
        verdict(text, "short", text, VerdictKind.UNCHANGED),
        verdict("pro", text, "ttft_ms", VerdictKind.UNCHANGED),
        verdict("pro", "short", "ttft_ms", VerdictKind.UNCHANGED),
    ]
    problems = [
        Problem(kind=Kind.RUNTIME_ERROR, tier=text, scenario=text, message=text),
        Problem(kind=Kind.BAD_INPUT, tier=text, message=f"perf-results/{text}.json: invalid results file: {text}"),
    ]
    changes = [
        Change(tier=text, field="model", old="qwen", new=text),
        Change(tier=text, scenario=text, field="command", old=text, new=f"python app.py '{text}'"),
        Change(tier="pro", field=text, old=text, new=None),
    ]
    status, code = gate_status(verdicts, problems, GateConfig())
    return GateReport(
        perfgate_version=text,
        created_at="2026-11-28T12:00:00Z",
        alpha=0.05,
        status=status,
        exit_code=int(code),
        headline=headline(status, verdicts, problems, [t.tier for t in tiers]),
        tiers=tuple(tiers),
        verdicts=tuple(verdicts),
        problems=tuple(problems),
        changes=tuple(changes),
    )


def hostile_result(text: str, seed: int = 2) -> RunResult:
    """A results file whose free-text fields are ``text`` (tier and scenario names are checked on reading)."""
    result = make_result(seed=seed)
    scenarios = tuple(
        s.model_copy(update={"prompt_sha256": text, "memory_unavailable_reason": text}) for s in result.scenarios
    )
    return result.model_copy(
        update={
            "git_sha": text,
            "created_at": text,
            "command": f"perfgate run --model '{text}'",
            "host": result.host.model_copy(update={"label": text, "chip": text}),
            "runtime": result.runtime.model_copy(
                update={"version": text, "model": text, "quantization": text, "base_url": text, "kind": text}
            ),
            "scenarios": scenarios,
        }
    )


def hostile_diff(text: str) -> BaselineDiff:
    old = baseline_of(make_result(seed=1, n=15))
    provenance = old.provenance.model_copy(
        update={
            "git_sha": text,
            "measured_at": text,
            "runtime_version": text,
            "model_digest": text,
            "perfgate_version": text,
            "host": old.provenance.host.model_copy(update={"label": text, "chip": text}),
        }
    )
    new = old.model_copy(update={"provenance": provenance})
    metrics = (MetricDiff(text, text, 1.0, 2.0, 0.1, 0.2, 15, 15),)
    return BaselineDiff(tier="pro", path=f"baselines/{text}.json", old=old, new=new, metrics=metrics)


# ---------------------------------------------------------------- checks

# The HTML perfgate writes itself; anything else in a summary came from outside.
OWN_HTML = frozenset(
    {
        "<details><summary>Provenance</summary>\n",
        "<details><summary>Chart: TTFT, baseline (line) vs current (bars)</summary>\n",
        "</details>",
        "</details>\n",
        "<sub>",
        "</sub>",
    }
)
OWN_FENCES = frozenset({"mermaid", "bash"})
_PARSER = MarkdownIt("commonmark").enable("table").enable("strikethrough")
_MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9]")
_REFERENCE = re.compile(r"(?<![\w&])#[0-9]")
_BARE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|www\.", re.IGNORECASE)
# What the runner reads as a line break or a terminal as a command; tab and newline are text.
_LOG_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _tokens(tokens: Iterable[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _tokens(token.children)


def live_markdown(text: str, *, references: bool = True) -> list[str]:
    """What is live in ``text`` rendered as GitHub Markdown (empty: nothing); ``references``: check ``#123`` too."""
    found: list[str] = []
    for token in _tokens(_PARSER.parse(text)):
        if token.type in ("link_open", "image"):
            found.append(f"{token.type} {token.attrs}")
        elif token.type in ("html_block", "html_inline") and token.content not in OWN_HTML:
            found.append(f"{token.type} {token.content!r}")
        elif token.type == "fence" and token.info not in OWN_FENCES:
            found.append(f"fence {token.info!r}")
        elif token.type == "text":
            for pattern in (_MENTION, _BARE_URL, *((_REFERENCE,) if references else ())):
                found += [f"text {match.group()!r} in {token.content!r}" for match in pattern.finditer(token.content)]
    # Outside code, "-->" closes an HTML comment (the sticky comment's marker is one).
    found += [f"comment end in {line!r}" for line in outside_fences(text) if "-->" in line]
    return found


def outside_fences(text: str) -> list[str]:
    lines, fence = [], ""
    for line in text.splitlines():
        stripped = line.lstrip()
        if fence:
            if stripped.startswith(fence) and not stripped.strip("`"):
                fence = ""
            continue
        match = re.match(r"`{3,}", stripped)
        if match:
            fence = match.group()
            continue
        lines.append(line)
    return lines


def live_log(text: str) -> list[str]:
    """The lines of ``text`` a GitHub Actions runner would act on, and those with a control character."""
    found: list[str] = []
    for line in text.split("\n"):
        if line.lstrip().startswith("::") or "##[" in line:
            found.append(f"workflow command: {line!r}")
        if _LOG_CONTROL.search(line):
            found.append(f"control character: {line!r}")
    return found
