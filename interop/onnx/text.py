"""Import rules for text ops: TfIdfVectorizer on integer tokens (string pools are outside our tensors). Counts are
integers: this runs on arrays, without gradient."""
import numpy as np

from ._import_util import as_str, const, rule, values


@rule("TfIdfVectorizer", 9)
def tf_idf_vectorizer(x, *, max_gram_length, max_skip_count, min_gram_length, mode, ngram_counts, ngram_indexes,
                      pool_int64s=None, pool_strings=None, weights=None):
    """Counts of the pooled n-grams (tokens `skip` apart, skip = 1 .. max_skip_count + 1) per row, weighted
    as TF, IDF or TFIDF. Unigrams are counted once, not once per skip distance."""
    if pool_int64s is None:
        raise ValueError("TfIdfVectorizer: string pools are not supported")
    mode = as_str(mode)
    pool, starts = list(pool_int64s), list(ngram_counts) + [len(pool_int64s)]
    grams = {}
    for size, (lo, hi) in enumerate(zip(starts[:-1], starts[1:]), start=1):
        for j in range(lo, hi, size):
            grams[tuple(pool[j:j + size])] = ngram_indexes[len(grams)]
    prefixes = {g[:k] for g in grams for k in range(1, len(g) + 1)}
    a = values(x)
    rows = a.reshape(1, -1) if a.ndim <= 1 else a
    width = max(ngram_indexes) + 1
    counts = np.zeros((rows.shape[0], width), np.float32)
    for r, row in enumerate(rows):
        smallest = min_gram_length
        for skip in range(1, min(max_skip_count + 1, len(row)) + 1):  # longer skips leave the row: nothing to count
            for start in range(len(row)):
                gram = ()
                for k in range(max_gram_length):
                    pos = start + k * skip
                    if pos >= len(row):
                        break
                    gram = gram + (int(row[pos]),)
                    if gram not in prefixes:
                        break
                    if len(gram) >= smallest and gram in grams:
                        counts[r, grams[gram]] += 1
            if smallest == 1:
                smallest = 2
                if smallest > max_gram_length:
                    break
    w = np.ones(width, np.float32) if weights is None else np.asarray(weights, np.float32)
    if mode == "IDF":
        counts = (counts > 0) * w
    elif mode == "TFIDF":
        counts = counts * w
    out = counts.astype(np.float32)
    return const(out.reshape(-1) if a.ndim <= 1 else out, x)
