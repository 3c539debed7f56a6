"""Export a sentence-transformers model folder to ONNX once, for the fast encoder (retrievers.fast_encoder).

Why: encoding passages is the slowest thing a user waits for. The exported graph runs through
OpenVINO (bf16 on CPUs with AMX/AVX512-BF16) or ONNX Runtime without torch: OpenVINO measured
2.07x torch's bf16 path on the same CPU (benchmarks/encoder_speed.py), and a process that only
searches never imports torch (the first dense result of a CLI search in 0.7 s instead of 5.6 s).

One export per model folder: the base model's in the user's cache folder, a trained version's
inside its own folder (deleted with it). An export is the whole sentence-transformers pipeline
(transformer, pooling, normalisation) traced into `model.onnx`, the tokenizer it was traced with
(`tokenizer.json`) and `export.json`, which records what was checked: the ONNX vectors of probe
texts against torch's (cosine >= 0.9999, else the export is refused). `model_int8.onnx` is the
dynamically quantised variant (its own vector key: its vectors differ from fp32 ones).

A failed export is recorded in `export.json` too ("error"), so every start does not retry it;
it is retried when the versions of torch / onnxruntime change, or with `force=True`.

Exporting needs torch, onnx and onnxruntime, and runs in a child process of its own (see
`_export_into`), so the process that then encodes never loads torch; loading an export needs only
onnxruntime or openvino, and `tokenizers`.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from .export_cache import (FORMAT, FP32_FILE, INT8_FILE, META, TOKENIZER_FILE, Export, cache_root, export_folder,
                           find_export, fingerprint, read_meta, recorded_failure, tool_versions)

MIN_FP32_COSINE = 0.9999  # what the fp32 graph must reproduce of torch's vectors
MIN_INT8_COSINE = 0.98  # below this the int8 variant is recorded as unusable
PROBES = (
    "hello world",
    "Protein folding determines function; misfolded proteins cause disease.",
    "Quantum entanglement links the states of two particles.",
    "Mix flour, water, salt and yeast, knead the dough and bake it in a hot oven.",
    # longer than the model's window: checks truncation matches torch's
    " ".join(["The cell membrane regulates transport of ions and nutrients into the cell."] * 40),
)


class ExportError(RuntimeError):
    """An export could not be made or checked (the encoder falls back to torch)."""


def _record_failure(folder: Path, model_dir: Path, error: str) -> None:
    from .util import atomic_write_text

    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / META, json.dumps({"format": FORMAT, "source": str(model_dir), "error": error,
                                                     "fingerprint": fingerprint(model_dir),
                                                     "versions": tool_versions()}, indent=2))
    except OSError:
        pass  # an unwritable cache: the failure is simply retried next time


# -- making one --------------------------------------------------------------------------------
def ensure_export(model_dir: str | os.PathLike, *, int8: bool = True, force: bool = False) -> Export:
    """The checked export of `model_dir`, made now if there is none (about 10 s for MiniLM, once).

    Raises ExportError (recorded, so later calls fail fast until the tools change)."""
    model_dir = Path(model_dir).resolve()
    if not (model_dir / "modules.json").is_file():
        raise ExportError(f"{model_dir} is not a local sentence-transformers model folder")
    folder = export_folder(model_dir)
    if not force:
        found = find_export(model_dir)
        if found is not None and (not int8 or "int8" in found.variants):
            return found
        failed = recorded_failure(model_dir)
        if failed is not None:
            raise ExportError(failed)
    import filelock

    folder.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(folder.parent / f".{folder.name}.lock"), timeout=600):
        if not force:  # another process may have made it while this one waited
            found = find_export(model_dir)
            if found is not None and (not int8 or "int8" in found.variants):
                return found
        tmp = folder.parent / f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            meta = _export_into(model_dir, tmp, int8=int8)
        except Exception as e:  # noqa: BLE001 - any failure of the exporter: recorded, then torch is used
            shutil.rmtree(tmp, ignore_errors=True)
            why = str(e) if isinstance(e, ExportError) else f"{type(e).__name__}: {e}"
            error = f"ONNX export of {model_dir.name} failed: {why}"[:500]
            _record_failure(folder, model_dir, error)
            raise ExportError(error) from e
        _replace_folder(tmp, folder)
        _prune_stale(folder, model_dir)
    found = find_export(model_dir)
    if found is None:
        raise ExportError(f"the export of {model_dir.name} was written but cannot be read back ({meta.get('source')})")
    return found


def _prune_stale(folder: Path, model_dir: Path) -> None:
    """Delete the cache's exports that no model can use any more: older exports of the same folder
    (its files changed) and exports of folders that are gone (about 150 MB each)."""
    if folder.parent != cache_root():
        return  # a trained version's export lives in its folder and goes with it
    for other in folder.parent.iterdir():
        if other == folder or other.name.startswith(".") or not other.is_dir():
            continue
        meta = read_meta(other)
        source = (meta or {}).get("source")
        if source and (source == str(model_dir) or not Path(source).is_dir()):
            shutil.rmtree(other, ignore_errors=True)


def _replace_folder(tmp: Path, folder: Path) -> None:
    """Put the new export in place of an old one (a failure record, a stale export)."""
    if folder.exists():
        old = folder.parent / f".{folder.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(folder, old)
        os.rename(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, folder)


EXPORT_TIMEOUT_S = 1800  # a slow laptop under load: the export measured 32 s on 2 cores


def _export_into(model_dir: Path, out: Path, *, int8: bool) -> dict:
    """Export in a child process (`python -m desktop_search.onnx_export MODEL OUT`): the export imports
    torch, and a process that then encodes with OpenVINO while torch is loaded grew without bound
    (9,836 SciFact passages with a new version: 3.6 GB, against 0.82 GB without torch in the process,
    the same export and the same vectors). The child leaves the export in `out`; its error, if any,
    comes back as the ExportError's message."""
    import subprocess

    from .jobs.launcher import child_environment, module_command

    cmd = module_command("desktop_search.onnx_export", str(model_dir), str(out), *([] if int8 else ["--no-int8"]))
    try:
        r = subprocess.run(cmd, env=child_environment(), capture_output=True, text=True, errors="replace",
                           timeout=EXPORT_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise ExportError(f"the export took longer than {EXPORT_TIMEOUT_S} s and was stopped") from e
    except OSError as e:
        raise ExportError(f"the export process could not start: {e}") from e
    if r.returncode != 0:
        lines = [x for x in (r.stderr or "").splitlines() if x.strip()]
        said = next((x for x in reversed(lines) if x.startswith("export failed: ")), None)
        raise ExportError(said[len("export failed: "):] if said else
                          f"the export process ended with code {r.returncode}: {(lines or ['no message'])[-1][:300]}")
    meta = read_meta(out)
    if meta is None:
        raise ExportError("the export process ended without writing export.json")
    return meta


def _export_here(model_dir: Path, out: Path, *, int8: bool) -> dict:
    """Trace the model with torch, check the graph against torch, quantise; write everything into `out`."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from .util import atomic_write_text

    out.mkdir(parents=True)
    st = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True, trust_remote_code=False,
                             model_kwargs={"use_safetensors": True})
    st.eval()
    tokenizer = st.tokenizer
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        raise ExportError("the model has no fast tokenizer (tokenizer.json)")
    prepare = getattr(st, "preprocess", None) or st.tokenize
    probe = prepare(["hello world", "a somewhat longer probe sentence"])
    inputs = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in probe]
    if "input_ids" not in inputs or "attention_mask" not in inputs:
        raise ExportError(f"unexpected model inputs {sorted(probe)}")

    class Pipeline(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, *args):
            return self.model(dict(zip(inputs, args)))["sentence_embedding"]

    dynamic = {n: {0: "batch", 1: "tokens"} for n in inputs}
    dynamic["sentence_embedding"] = {0: "batch"}
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes about Python conditions it fixed
        torch.onnx.export(Pipeline(st), tuple(probe[n] for n in inputs), str(out / FP32_FILE), input_names=inputs,
                          output_names=["sentence_embedding"], dynamic_axes=dynamic, opset_version=17,
                          do_constant_folding=True, dynamo=False)
    (out / TOKENIZER_FILE).write_text(tokenizer.backend_tokenizer.to_str(), encoding="utf-8")
    pad_token = tokenizer.pad_token or "[PAD]"
    dimension = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
    meta = {"format": FORMAT, "source": str(model_dir), "fingerprint": fingerprint(model_dir), "inputs": inputs,
            "max_seq_length": int(st.max_seq_length or 256), "dim": int(dimension()),
            "pad_id": int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0), "pad_token": pad_token,
            "versions": tool_versions(), "variants": {}}
    reference = st.encode(list(PROBES), convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
    reference = np.asarray(reference, dtype=np.float32)
    export = Export(folder=out, source=meta["source"], fingerprint=meta["fingerprint"], inputs=inputs,
                    max_seq_length=meta["max_seq_length"], dim=meta["dim"], pad_id=meta["pad_id"],
                    pad_token=pad_token, variants={"fp32": {"file": FP32_FILE}})
    cos = _probe_cosine(export, "fp32", reference)
    if cos < MIN_FP32_COSINE:
        raise ExportError(f"the ONNX graph does not reproduce the model (cosine {cos:.5f} < {MIN_FP32_COSINE})")
    meta["variants"]["fp32"] = {"file": FP32_FILE, "min_cosine": round(cos, 6)}
    if int8:
        meta["variants"]["int8"] = _quantize(export, reference)
    atomic_write_text(out / META, json.dumps(meta, indent=2))
    return meta


def _probe_cosine(export: Export, variant: str, reference) -> float:
    """The lowest cosine between the variant's vectors of PROBES and torch's."""
    import numpy as np

    from .retrievers.fast_encoder import OnnxRuntimeEncoder  # the reader: it never imports this module

    vecs = OnnxRuntimeEncoder(export, variant).encode(list(PROBES))
    return float(np.min(np.sum(vecs * reference, axis=1)))


def _quantize(export: Export, reference) -> dict:
    """Dynamic int8 quantisation of the weights of every MatMul (per channel: per tensor lost up to
    0.10 of cosine on SciFact passages, per channel under 0.01)."""
    import logging

    root = logging.getLogger()
    level = root.level
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        root.setLevel(max(level, logging.ERROR))  # its "consider pre-processing" note goes to the root logger
        quantize_dynamic(str(export.folder / FP32_FILE), str(export.folder / INT8_FILE), weight_type=QuantType.QInt8,
                         per_channel=True, op_types_to_quantize=["MatMul"])
        export.variants["int8"] = {"file": INT8_FILE}
        cos = _probe_cosine(export, "int8", reference)
    except Exception as e:  # noqa: BLE001 - int8 is optional: recorded, fp32 still serves
        return {"error": f"int8 quantisation failed: {type(e).__name__}: {e}"[:300]}
    finally:
        root.setLevel(level)
    if cos < MIN_INT8_COSINE:
        return {"file": INT8_FILE, "min_cosine": round(cos, 6),
                "error": f"int8 vectors too far from fp32 (cosine {cos:.4f} < {MIN_INT8_COSINE})"}
    return {"file": INT8_FILE, "min_cosine": round(cos, 6)}


def main(argv: list[str] | None = None) -> int:
    """`python -m desktop_search.onnx_export MODEL_DIR OUT [--no-int8]`: the child `_export_into` runs."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="desktop_search.onnx_export")
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--no-int8", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        _export_here(args.model_dir, args.out, int8=not args.no_int8)
    except Exception as e:  # noqa: BLE001 - any failure: one line for the parent, which records it
        msg = str(e) if isinstance(e, ExportError) else f"{type(e).__name__}: {e}"
        print("export failed: " + " ".join(msg.split())[:500], file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
