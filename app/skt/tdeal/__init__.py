"""SKT T deal (티딜): AI-curation commerce for local small merchants (경북세일페스타)."""
