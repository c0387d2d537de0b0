"""Deterministic random-weight llama-architecture GGUF models, so a real runtime can run with no download.

The weights are noise from a fixed seed, so every file is byte-identical on
every machine and its sha256 is a stable model digest. Three sizes make a
real, repeatable slowdown between them; the tiny one is for functional checks.

Every token embedding carries +``_BIAS_LIFT`` in dimension 0 and the output
rows of control, unknown and byte tokens carry ``_NEVER_WEIGHT`` there (the
other rows 0), so after the final RMS norm those tokens' logits sit hundreds
below the rest: generation never emits an end-of-generation token (it always
runs to ``max_tokens``) and never emits a partial UTF-8 byte.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from perfgate.errors import MissingExtraError, UsageError
from perfgate.llamacpp.tokenizer import BOS, CHATML_TEMPLATE, EOS, IM_END, UNK, Vocabulary, build_vocabulary

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

ModelSize = Literal["tiny", "small", "medium"]
MODEL_SIZES: tuple[ModelSize, ...] = get_args(ModelSize)

MISSING_EXTRA = "the llamacpp runtime needs the optional extra: pip install 'perfgate[llamacpp]'"

# Bump when anything below changes the bytes written, so caches miss instead
# of serving a model whose digest no longer matches what this code writes.
GENERATOR_VERSION = 1
SEED = 20_251_011
CONTEXT_LENGTH = 4096
_INIT_STD = 0.02
_BIAS_LIFT = 3.0
_NEVER_WEIGHT = -30.0
_CHUNK_ROWS = 4096  # rows generated per RNG call: bounds memory while writing the big models


@dataclass(frozen=True)
class ModelShape:
    """Hyper-parameters of one generated model size."""

    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    n_ff: int

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def tensor_shapes(self, n_vocab: int) -> list[tuple[str, tuple[int, ...]]]:
        """(name, numpy shape) in file order; numpy shapes are ggml's reversed (rows = output features)."""
        kv_dim = self.head_dim * self.n_head_kv
        shapes: list[tuple[str, tuple[int, ...]]] = [("token_embd.weight", (n_vocab, self.n_embd))]
        for layer in range(self.n_layer):
            blk = f"blk.{layer}"
            shapes += [
                (f"{blk}.attn_norm.weight", (self.n_embd,)),
                (f"{blk}.attn_q.weight", (self.n_embd, self.n_embd)),
                (f"{blk}.attn_k.weight", (kv_dim, self.n_embd)),
                (f"{blk}.attn_v.weight", (kv_dim, self.n_embd)),
                (f"{blk}.attn_output.weight", (self.n_embd, self.n_embd)),
                (f"{blk}.ffn_norm.weight", (self.n_embd,)),
                (f"{blk}.ffn_gate.weight", (self.n_ff, self.n_embd)),
                (f"{blk}.ffn_up.weight", (self.n_ff, self.n_embd)),
                (f"{blk}.ffn_down.weight", (self.n_embd, self.n_ff)),
            ]
        shapes += [("output_norm.weight", (self.n_embd,)), ("output.weight", (n_vocab, self.n_embd))]
        return shapes

    def parameter_count(self, n_vocab: int) -> int:
        total = 0
        for _name, shape in self.tensor_shapes(n_vocab):
            count = 1
            for dim in shape:
                count *= dim
            total += count
        return total


MODEL_SHAPES: dict[ModelSize, ModelShape] = {
    "tiny": ModelShape(n_layer=2, n_embd=64, n_head=4, n_head_kv=2, n_ff=128),
    "small": ModelShape(n_layer=8, n_embd=256, n_head=8, n_head_kv=4, n_ff=768),
    "medium": ModelShape(n_layer=16, n_embd=512, n_head=8, n_head_kv=4, n_ff=1536),
}


@dataclass(frozen=True)
class ModelFile:
    """A GGUF file ready to serve, and its sha256 (the model digest in results)."""

    path: Path
    sha256: str
    size: ModelSize | None  # None for a user-supplied GGUF

    @property
    def alias(self) -> str:
        """The name the server serves it under."""
        return f"perfgate-{self.size}" if self.size is not None else self.path.name.removesuffix(".gguf")


def model_filename(size: ModelSize) -> str:
    return f"perfgate-{size}-v{GENERATOR_VERSION}.gguf"


def _import_gguf() -> Any:  # noqa: ANN401 -- the optional module itself
    try:
        import gguf  # noqa: PLC0415 -- optional extra, imported only when a model is written
    except ImportError as exc:
        raise MissingExtraError(MISSING_EXTRA) from exc
    return gguf


def write_model(path: Path, size: ModelSize) -> Path:
    """Write the ``size`` model to ``path`` (same bytes every time) and return ``path``."""
    gguf = _import_gguf()
    import numpy as np  # noqa: PLC0415 -- a core dependency, but only model writing needs it here

    shape = MODEL_SHAPES[size]
    vocab = build_vocabulary()
    writer = gguf.GGUFWriter(path, "llama")
    try:
        _add_metadata(writer, gguf, shape, vocab, size)
        shapes = shape.tensor_shapes(vocab.size)
        for name, tensor_shape in shapes:
            nbytes = 4
            for dim in tensor_shape:
                nbytes *= dim
            writer.add_tensor_info(name, tensor_shape, np.dtype(np.float32), nbytes)
        writer.write_header_to_file(path)
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        rng = np.random.Generator(np.random.PCG64(SEED))
        never = np.asarray(vocab.never_generated(), dtype=np.intp)
        for name, tensor_shape in shapes:
            writer.write_tensor_data(_tensor(name, tensor_shape, rng, never))
    finally:
        writer.close()
    return path


def _add_metadata(writer: Any, gguf: Any, shape: ModelShape, vocab: Vocabulary, size: ModelSize) -> None:  # noqa: ANN401
    writer.add_name(f"perfgate {size} random-weight test model")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(shape.n_embd)
    writer.add_block_count(shape.n_layer)
    writer.add_feed_forward_length(shape.n_ff)
    writer.add_head_count(shape.n_head)
    writer.add_head_count_kv(shape.n_head_kv)
    writer.add_rope_dimension_count(shape.head_dim)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(vocab.size)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(list(vocab.tokens))
    writer.add_token_scores(list(vocab.scores))
    writer.add_token_types(list(vocab.types))
    writer.add_unk_token_id(vocab.id_of(UNK))
    writer.add_bos_token_id(vocab.id_of(BOS))
    writer.add_eos_token_id(vocab.id_of(EOS))
    writer.add_eot_token_id(vocab.id_of(IM_END))
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(True)
    writer.add_chat_template(CHATML_TEMPLATE)


def _tensor(
    name: str, shape: tuple[int, ...], rng: np.random.Generator, never: npt.NDArray[np.intp]
) -> npt.NDArray[np.float32]:
    import numpy as np  # noqa: PLC0415

    if len(shape) == 1:  # RMS-norm weights
        return np.ones(shape, dtype=np.float32)
    out = np.empty(shape, dtype=np.float32)
    for start in range(0, shape[0], _CHUNK_ROWS):
        rows = out[start : start + _CHUNK_ROWS]
        rng.standard_normal(rows.shape, dtype=np.float32, out=rows)
        rows *= np.float32(_INIT_STD)
    if name == "token_embd.weight":
        out[:, 0] += np.float32(_BIAS_LIFT)
    elif name == "output.weight":
        out[:, 0] = 0.0  # dimension 0 decides only what is never generated, not what is
        out[never, 0] = np.float32(_NEVER_WEIGHT)
    return out


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/perfgate/models``, else ``~/.cache/perfgate/models``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "perfgate" / "models"


def ensure_model(cache_dir: Path, size: ModelSize) -> ModelFile:
    """The ``size`` model in ``cache_dir``, written on first use (atomically) and reused after."""
    target = cache_dir / model_filename(size)
    if not target.is_file():
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            # Written beside the target and renamed: a concurrent or killed
            # writer never leaves a half-written model under the final name.
            fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=cache_dir)
            os.close(fd)
            tmp = Path(tmp_name)
            try:
                write_model(tmp, size)
                tmp.chmod(0o644)  # mkstemp's 0600 would hide a shared cache from other users
                tmp.replace(target)
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot write the {size} model into {cache_dir}: {exc}") from exc
    return ModelFile(path=target, sha256=_cached_sha256(target), size=size)


def _cached_sha256(path: Path) -> str:
    try:
        return file_sha256(path)
    except OSError as exc:
        raise UsageError(f"cannot read the model {path}: {exc}") from exc
