"""The generated GGUF models (byte-identical, the stated sizes, a vocabulary any input tokenizes with) and
the pure parts of the llamacpp launcher (model choice, alias, context, the client's runtime description)."""

from __future__ import annotations

import sys

import gguf  # in the test extra: a missing package fails this module rather than skipping it
import httpx
import numpy as np
import pytest

from perfgate.config import PerfgateConfig, ScenarioConfig
from perfgate.errors import MissingExtraError, UsageError
from perfgate.llamacpp import launch
from perfgate.llamacpp import model as model_module
from perfgate.llamacpp.model import MODEL_SHAPES, ensure_model, file_sha256, model_filename, write_model
from perfgate.llamacpp.tokenizer import SPACE, WORDS, TokenType, build_vocabulary

# The committed digest of the tiny model: a change here means every cached
# model and every baseline's model_digest changes too (bump GENERATOR_VERSION).
TINY_SHA256 = "d49730d7050460639dc4c5f1fed0846b8cb55b45b6e70fbb59aab1efef1fac93"
MB = 1_000_000


def _fields(path):
    reader = gguf.GGUFReader(path)
    return reader, {name: field.contents() for name, field in reader.fields.items()}


def test_tiny_model_bytes_are_identical_every_time(tmp_path):
    first = write_model(tmp_path / "a.gguf", "tiny")
    second = write_model(tmp_path / "b.gguf", "tiny")
    assert first.read_bytes() == second.read_bytes()
    assert file_sha256(first) == TINY_SHA256
    assert 0.8 * MB < first.stat().st_size < 1.2 * MB


def test_small_model_size_and_medium_parameters(tmp_path):
    small = write_model(tmp_path / "small.gguf", "small")
    assert 25 * MB < small.stat().st_size < 32 * MB
    n_vocab = build_vocabulary().size
    # medium is not written here (about 1 s and 206 MB); its size is its F32 parameters.
    medium = MODEL_SHAPES["medium"]
    assert (medium.n_layer, medium.n_embd) == (16, 512)
    assert 195 * MB < 4 * medium.parameter_count(n_vocab) < 215 * MB
    assert 4 * MODEL_SHAPES["small"].parameter_count(n_vocab) == pytest.approx(small.stat().st_size, rel=0.01)


def test_tiny_metadata_is_a_llama_model_with_a_chatml_template(tmp_path):
    path = write_model(tmp_path / "tiny.gguf", "tiny")
    reader, fields = _fields(path)
    assert fields["general.architecture"] == "llama"
    assert fields["llama.block_count"] == 2
    assert fields["llama.embedding_length"] == 64
    assert fields["llama.attention.head_count"] == 4
    assert fields["llama.attention.head_count_kv"] == 2
    assert fields["llama.feed_forward_length"] == 128
    assert fields["tokenizer.ggml.model"] == "llama"
    assert "<|im_start|>" in fields["tokenizer.chat_template"]
    tokens = fields["tokenizer.ggml.tokens"]
    assert tokens[fields["tokenizer.ggml.bos_token_id"]] == "<s>"
    assert tokens[fields["tokenizer.ggml.eos_token_id"]] == "</s>"
    assert {t.tensor_type for t in reader.tensors} == {gguf.GGMLQuantizationType.F32}
    assert len(reader.tensors) == 2 + 9 * 2 + 1


def test_never_generated_tokens_are_biased_far_below_the_rest(tmp_path):
    path = write_model(tmp_path / "tiny.gguf", "tiny")
    reader, _ = _fields(path)
    tensors = {t.name: np.asarray(t.data) for t in reader.tensors}
    vocab = build_vocabulary()
    never = list(vocab.never_generated())
    embd, output = tensors["token_embd.weight"], tensors["output.weight"]
    assert embd.shape == output.shape == (vocab.size, 64)
    assert np.all(embd[:, 0] > 2.5)
    assert np.all(output[never, 0] == -30.0)
    printable = [i for i in range(vocab.size) if i not in set(never)]
    assert np.all(output[printable, 0] == 0.0)


def test_vocabulary_falls_back_to_bytes_and_has_every_prefix():
    vocab = build_vocabulary()
    assert vocab.tokens[:5] == ("<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>")
    byte_tokens = [t for t, kind in zip(vocab.tokens, vocab.types, strict=True) if kind == TokenType.BYTE]
    assert byte_tokens == [f"<0x{b:02X}>" for b in range(256)]
    assert len(set(vocab.tokens)) == vocab.size
    present = set(vocab.tokens)
    for word in WORDS:
        piece = SPACE + word
        assert all(piece[:end] in present for end in range(1, len(piece) + 1)), word
    assert all(chr(c) in present for c in range(0x21, 0x7F))
    never = set(vocab.never_generated())
    assert never == {i for i, kind in enumerate(vocab.types) if kind != TokenType.NORMAL}
    assert len(never) == 1 + 4 + 256


def test_ensure_model_writes_once_then_reuses(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = ensure_model(cache, "tiny")
    assert first.path == cache / model_filename("tiny")
    assert first.sha256 == TINY_SHA256
    assert first.alias == "perfgate-tiny"
    assert sorted(p.name for p in cache.iterdir()) == [model_filename("tiny")]  # no temp file left behind

    def must_not_write(path, size):
        raise AssertionError("the cached model was written again")

    monkeypatch.setattr(model_module, "write_model", must_not_write)
    assert ensure_model(cache, "tiny") == first


def test_ensure_model_leaves_no_partial_file_when_writing_fails(tmp_path, monkeypatch):
    def broken(path, size):
        path.write_bytes(b"GGUF half")
        raise OSError("disk full")

    monkeypatch.setattr(model_module, "write_model", broken)
    with pytest.raises(UsageError, match="disk full"):
        ensure_model(tmp_path, "tiny")
    assert list(tmp_path.iterdir()) == []


def test_missing_gguf_is_a_missing_extra_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gguf", None)  # makes `import gguf` raise ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'perfgate\[llamacpp\]'") as info:
        write_model(tmp_path / "x.gguf", "tiny")
    assert info.value.exit_code == 2


def test_missing_xllamacpp_is_refused_before_anything_starts(monkeypatch):
    monkeypatch.setattr(launch.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingExtraError, match=r"perfgate\[llamacpp\]"):
        launch.require_xllamacpp()


def _config(**runtime) -> PerfgateConfig:
    return PerfgateConfig.model_validate({"runtime": {"kind": "llamacpp", **runtime}})


def test_resolve_model_generates_into_the_configured_cache(tmp_path):
    model = launch.resolve_model(_config(model_cache_dir=str(tmp_path), model_size="tiny"))
    assert model.path == tmp_path / model_filename("tiny")
    assert model.sha256 == TINY_SHA256


def test_resolve_model_takes_a_given_gguf_and_its_digest(tmp_path):
    given = write_model(tmp_path / "mine.gguf", "tiny")
    config = _config(gguf=str(given), model_cache_dir=str(tmp_path / "unused"))
    model = launch.resolve_model(config)
    assert (model.path, model.sha256, model.size) == (given, TINY_SHA256, None)
    assert launch.served_alias(config, model) == "mine"
    assert not (tmp_path / "unused").exists()
    with pytest.raises(UsageError, match="no such file"):
        launch.resolve_model(_config(gguf=str(tmp_path / "absent.gguf")))


def test_alias_is_the_configured_model_only_when_one_was_configured(tmp_path):
    model = model_module.ModelFile(path=tmp_path / "x.gguf", sha256="0" * 64, size="small")
    assert launch.served_alias(_config(), model) == "perfgate-small"
    assert launch.served_alias(_config(model="my-model"), model) == "my-model"


def test_context_is_the_largest_any_scenario_asks_for():
    config = _config().model_copy(
        update={"scenarios": {"a": ScenarioConfig(prompt="x", num_ctx=2048), "b": ScenarioConfig(prompt="y")}}
    )
    assert launch.context_size(config) == 4096


def test_client_reports_the_wheel_version_and_the_model_digest(tmp_path):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"object": "list", "data": [{"id": "perfgate-tiny"}]})
        if request.url.path == "/props":
            return httpx.Response(200, json={"build_info": "b0-unknown"})
        return httpx.Response(404)

    model = model_module.ModelFile(path=tmp_path / "t.gguf", sha256="ab" * 32, size="tiny")
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        client = launch.LlamaCppClient(http, base_url="http://llama.test", model="perfgate-tiny", model_file=model)
        info = client.preflight()
    assert info.kind == "llamacpp"
    assert info.version == "xllamacpp 2026.10.11549 (b0-unknown)"
    assert info.model_digest == "ab" * 32
    assert info.quantization == "F32"
