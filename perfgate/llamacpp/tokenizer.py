"""The generated SentencePiece-style vocabulary of perfgate's test models.

llama.cpp's SPM tokenizer starts from single characters (``▁`` for a space)
and merges adjacent pairs whose concatenation is in the vocabulary, so a word
becomes one token only if every prefix on the way is a token too: each word
piece is added with all its prefixes. The 256 ``<0xNN>`` byte tokens make any
input tokenize (non-ASCII text falls back to bytes).

The word list is a literal, not derived from the configured prompts, so that
editing a prompt never changes a model's bytes (and so its digest). It covers
the default scenarios' words so their prompts tokenize to about one token a
word and the long prefill prompt fits the context window.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

SPACE = "\u2581"  # SentencePiece's visible space, "▁"

UNK, BOS, EOS, IM_START, IM_END = "<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = (UNK, BOS, EOS, IM_START, IM_END)

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Common English words plus the words of perfgate's default prompts and chat
# roles. Append only at the end: any change alters every model's bytes.
_WORD_TEXT = """
a about above after again against all also always an and another any app apple apps are around arrive as ask
assistant at away back be because been before being below best better between big both bring but by call came can
cannot change chat check chip close code cold come compare could cpu data day decode did different do does done
down during each early end even every example explain fast few find first follow following for found four from
full gate get give go good great had has have he help her here high him his hold how i if in inside into is it its
just keep keeps kind know language large last latency late later least left less let like line little load loaded
local long look low macOS made make many may me mean measure measures memory might model models more most move much
must my name need never new next no not note notes now number of off often old on once one only open or order other
our out over own part peak people per place point prompt put quick rate read ready real release report reports
request requests result right run runs runtime said same say second see sentence sentences server set she short
should show side since slow small so some speed start still stop stream streams such summarise summary system take
tell test than that the their them then there these they thing think this those three through throughput time to
today together token tokens too took turn two under until up upon us use used user very want was way we well went
were what when where which while who why will with word work would write year yes yet you your
Bzzbe Explain Note Summarise The This You
"""
WORDS: tuple[str, ...] = tuple(_WORD_TEXT.split())

# Where a piece's score comes from: SPM merges the highest-scoring pair first;
# longer pieces score higher so a word is assembled before its neighbours.
_BASE_SCORE = -1000.0


class TokenType(IntEnum):
    """llama.cpp's token types (``gguf.TokenType``), kept here so this module needs no optional extra."""

    NORMAL = 1
    UNKNOWN = 2
    CONTROL = 3
    USER_DEFINED = 4
    UNUSED = 5
    BYTE = 6


@dataclass(frozen=True)
class Vocabulary:
    """Token texts, SPM scores and token types, index = token id."""

    tokens: tuple[str, ...]
    scores: tuple[float, ...]
    types: tuple[int, ...]

    @property
    def size(self) -> int:
        return len(self.tokens)

    def id_of(self, token: str) -> int:
        return self.tokens.index(token)

    def never_generated(self) -> tuple[int, ...]:
        """Ids of control, unknown and byte tokens: the model is biased never to emit them."""
        printable = (TokenType.NORMAL,)
        return tuple(i for i, kind in enumerate(self.types) if kind not in printable)


def build_vocabulary() -> Vocabulary:
    """The one vocabulary every generated model carries (deterministic)."""
    tokens: list[str] = []
    scores: list[float] = []
    types: list[int] = []
    seen: set[str] = set()

    def add(token: str, score: float, kind: TokenType) -> None:
        if token in seen:
            return
        seen.add(token)
        tokens.append(token)
        scores.append(score)
        types.append(int(kind))

    add(UNK, 0.0, TokenType.UNKNOWN)
    for special in SPECIAL_TOKENS[1:]:
        add(special, 0.0, TokenType.CONTROL)
    for byte in range(256):
        add(f"<0x{byte:02X}>", 0.0, TokenType.BYTE)
    add(SPACE, _BASE_SCORE, TokenType.NORMAL)
    for code in range(0x21, 0x7F):  # printable ASCII; the space is SPACE above
        add(chr(code), _BASE_SCORE, TokenType.NORMAL)
    for word in WORDS:
        piece = SPACE + word
        for end in range(2, len(piece) + 1):
            add(piece[:end], _BASE_SCORE + end, TokenType.NORMAL)
    return Vocabulary(tuple(tokens), tuple(scores), tuple(types))
