"""Word statistics of the text given on the command line (skips the stop words)."""

import collections
import pathlib
import sys

stop = set((pathlib.Path(__file__).parents[1] / "references" / "stopwords.txt").read_text().split())
words = [w.strip(".,;:!?").lower() for w in " ".join(sys.argv[1:]).split()]
counts = collections.Counter(w for w in words if w and w not in stop)
print(f"{len(words)} words; most frequent: {counts.most_common(3)}")
