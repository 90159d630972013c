"""The strategy benchmark suite: cheap objectives over mixed and conditional spaces with a known
optimum (`problems`), peers from other libraries (`peers`), one driver of our strategies
(`driver`), and the runner (`run.py`) that writes RESULTS.md and the raw per-run CSV."""
