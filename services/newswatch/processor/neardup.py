"""Near-duplicate signatures: text → word shingles → MinHash signature → LSH band keys, and similarity.

The same story syndicated by another outlet (the seed article republishes South Front with its own
header and footer) is the same text with small edits. Two texts are compared as sets of word 3-grams
("shingles") of their folded form (:func:`newswatch.processor.normalize.fold`: case, accents,
apostrophes and dashes unified; ASCII punctuation dropped); their Jaccard similarity is estimated with
a MinHash signature, and candidate pairs are found without comparing every pair through LSH bands.

- **Shingles**: the top 30 bits of the CRC-32 (zlib's) of each run of :data:`SHINGLE_WORDS`
  consecutive words concatenated (signatures of the earlier 32-bit form do not compare with these).
  Hashing and the signature are computed by the compiled core (``newswatch_native``, ``native/``)
  from the folded text, with the parameters of this module.
  Boilerplate (copyright / disclaimer footers, which every article of a site shares) is masked out
  first by :func:`article_text`.
- **Signature**: one-permutation MinHash (Li, Owen & Zhang, 2012): the shingle hashes are split into
  :data:`BINS` bins by their top bits and the smallest hash of each bin is kept (its low 16 bits), with
  rotation densification for empty bins (Shrivastava, 2017). One hash per shingle instead of one per
  shingle and permutation keeps it cheap. The signature is ``bytes`` (2 bytes a
  bin, little-endian); equal texts give equal signatures in every process (no ``hash()``).
- **Similarity**: the share of bins holding the same value, an unbiased estimate of the Jaccard
  similarity with a standard error of about ``sqrt(J(1 - J) / 64)`` ≈ 0.06 near the threshold.
- **LSH**: the first ``BANDS × ROWS`` values in :data:`BANDS` bands of :data:`ROWS`; texts sharing any
  band are candidates. ``P(candidate) = 1 - (1 - J**ROWS)**BANDS``: 0.985 at J = 0.7, 0.9993 at 0.8,
  0.08 at 0.2.

Texts with fewer than :data:`MIN_SHINGLES` distinct shingles get no signature (their estimate would be
too noisy to suppress an alert on); exact copies of them are still found by fingerprint (``dedupe``).
Pure functions; nothing raises on any ``str``.
"""

from __future__ import annotations

from newswatch_native import band_keys as native_band_keys
from newswatch_native import equal_bins, minhash_signature, shingle_hashes

from newswatch.processor.normalize import fold_bytes, mask_boilerplate
from newswatch.v1.article_pb2 import Article

__all__ = [
    "BANDS",
    "BINS",
    "MIN_SHINGLES",
    "ROWS",
    "SHINGLE_WORDS",
    "SIGNATURE_BYTES",
    "SIMILARITY_THRESHOLD",
    "article_text",
    "band_keys",
    "shingles",
    "signature",
    "similarity",
]

#: Words per shingle. Three is the usual choice for news text: single words and pairs are shared by
#: unrelated articles on the same topic ("the Syrian army"), longer runs make every small edit cost
#: more shingles (an edited word changes SHINGLE_WORDS of them).
SHINGLE_WORDS = 3
#: Bins of the one-permutation MinHash, i.e. values in a signature.
BINS = 64
_HASH_BITS = 30  # a shingle hash: the top 30 bits of its CRC-32
_BIN_BITS = 6  # log2(BINS): a shingle hash's top bits choose its bin
SIGNATURE_BYTES = 2 * BINS
#: LSH: BANDS bands of ROWS consecutive values. Ten bands of three find 98.5% of pairs at a true
#: Jaccard similarity of 0.7 (99.9% at 0.8) while pairs at 0.2 become candidates 8% of the time (and
#: are then rejected by the similarity check); each indexed article costs BANDS dictionary entries.
BANDS = 10
ROWS = 3
#: Estimated similarity from which an article joins an earlier one's cluster. Syndicated copies of one
#: text (another header, a masked footer, a changed title or a few edited sentences) measure 0.8-1.0;
#: two outlets' own reports of the same event share few word 3-grams (< 0.2). At 0.7 a true 0.85 copy
#: passes 99% of the time, a true 0.55 pair about 1%: an article wrongly taken for a copy loses its
#: alert, so the threshold leans towards precision.
SIMILARITY_THRESHOLD = 0.7
#: Distinct shingles a text needs for a signature (about 60 words: a long summary or a short article).
MIN_SHINGLES = 50

_DENSIFY_STEP = 0x9E37  # added per bin of distance when an empty bin borrows its right neighbour's value
_BAND_BYTES = 2 * ROWS


def article_text(article: Article) -> str:
    """What identifies an article's text: its title and its content (else its summary), footers masked."""
    body = article.content or article.summary
    return f"{article.title}\n{mask_boilerplate(body)}"


def shingles(text: str) -> set[int]:
    """The hashes (30-bit CRC-32) of the text's word SHINGLE_WORDS-grams (folded, ASCII punctuation
    removed)."""
    return set(_shingle_hashes(text))


def _shingle_hashes(text: str) -> list[int]:
    return shingle_hashes(fold_bytes(text), SHINGLE_WORDS, _HASH_BITS)


def signature(text: str) -> bytes | None:
    """The MinHash signature of ``text`` (SIGNATURE_BYTES bytes), or None below MIN_SHINGLES shingles
    (repeated shingles count once per occurrence here: a cheaper test, and only very short texts care)."""
    return minhash_signature(
        fold_bytes(text), SHINGLE_WORDS, _HASH_BITS, _BIN_BITS, MIN_SHINGLES, _DENSIFY_STEP
    )


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of the texts behind two signatures (0.0-1.0)."""
    if len(a) != SIGNATURE_BYTES or len(b) != SIGNATURE_BYTES:
        return 0.0
    return equal_bins(a, b) / BINS


def band_keys(sig: bytes) -> list[int]:
    """One integer per LSH band; two signatures sharing a key are candidates. Equal across processes:
    band ``b``'s key is ``int.from_bytes(sig[b * 2 * ROWS : (b + 1) * 2 * ROWS], "little") | b << 16 *
    ROWS`` (computed natively)."""
    return native_band_keys(sig, BANDS, _BAND_BYTES)
