"""The commands of `desktop-search`: index, status, remove, search, compare, eval, train, models.

`entry.main` parses the arguments and either opens the window or runs one of these.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime

from .cli_exclude import add_parser as add_exclude_parser
from .activity import STORE_LOCKED, lock_holder
from .errors import Cancelled, KnownError, StoreLocked
from .jobs import CancelToken, emit, run_job
from .jobs.events import EventType
from .jobs.launcher import background_priority
from .textsafe import clean_text, is_blank, terminal_lines, terminal_safe

MAX_K = 1000


def _parse_date(s: str) -> float:
    try:
        return datetime.fromisoformat(s).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {s}") from None


def _k_value(s: str) -> int:
    """-k: how many results, 1 to MAX_K (argparse says why another value is refused)."""
    try:
        k = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {s!r}") from None
    if not 1 <= k <= MAX_K:
        raise argparse.ArgumentTypeError(f"{k} is out of range: give 1 to {MAX_K:,} results")
    return k


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="desktop-search", description=__doc__)
    p.add_argument("--data-dir", help="where the index lives (default: the user's data folder)")
    p.add_argument("--model", help="sentence-transformers model: name or local path (default: all-MiniLM-L6-v2, bundled)")
    p.add_argument("--self-test", action="store_true", help="index the bundled sample folder and check the three retrievers")
    sub = p.add_subparsers(dest="command")

    def common(sp):
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        return sp

    sp = common(sub.add_parser("index", help="add folders or files and index them (incremental)"))
    sp.add_argument("paths", nargs="*", help="folders or files; none = update every indexed folder")
    sp.add_argument("--retry-failed", action="store_true", help="read failed files again")
    sp.add_argument("--no-embed", action="store_true", help="BM25 only; embed later")
    sp.add_argument("--json-progress", action="store_true", help="one JSON progress object per line (for the GUI)")

    common(sub.add_parser("status", help="folders, counts, sizes, and every skipped or failed file"))

    sp = common(sub.add_parser("remove", help="remove an indexed folder and its entries"))
    sp.add_argument("path")

    for name, helptext in (("search", "ranked files for a query"), ("compare", "retrievers side by side")):
        sp = common(sub.add_parser(name, help=helptext))
        sp.add_argument("query", help='what to look for: words, "an exact phrase", +required, -excluded')
        sp.add_argument("-k", type=_k_value, default=10, help=f"results per retriever, 1 to {MAX_K:,} (default 10)")
        if name == "search":
            sp.add_argument("--retriever", choices=["bm25", "dense", "hybrid"], default="hybrid",
                            help="bm25: files with the words (keywords); dense: files close in meaning (the "
                                 "embedding model); hybrid: both rankings fused (default)")
        else:
            sp.add_argument("--retrievers", default="bm25,dense,hybrid",
                            help="comma-separated retrievers to put side by side: bm25, dense, hybrid, or "
                                 "dense:VERSION / hybrid:VERSION for a trained model version (default all three)")
        sp.add_argument("--hybrid", choices=["minmax", "rrf"], default="minmax",
                        help="how hybrid fuses the two rankings: minmax (scores scaled to 0-1 and summed, "
                             "the default) or rrf (reciprocal rank fusion)")
        sp.add_argument("--folder", help="only files under this folder")
        sp.add_argument("--type", dest="types", action="append", default=[], help="file extension, repeatable")
        sp.add_argument("--after", type=_parse_date, help="modified on or after (YYYY-MM-DD)")
        sp.add_argument("--before", type=_parse_date, help="modified on or before (YYYY-MM-DD)")

    sp = common(sub.add_parser("eval", help="nDCG@10, Recall@100, MRR@10 on a BEIR-layout folder, "
                                            "or on your own judgments (--judgments)"))
    sp.add_argument("beir_dir", nargs="?", help="a BEIR folder (corpus.jsonl, queries.jsonl, qrels/)")
    sp.add_argument("--judgments", action="store_true",
                    help="score this library's retrievers and model versions on the results you marked")
    sp.add_argument("--retriever", default="bm25,dense,hybrid")
    sp.add_argument("--split", default="test")
    sp.add_argument("--max-queries", type=int, default=0)
    sp.add_argument("--keep", help="keep the throw-away store in this folder (reused if present)")

    sp = common(sub.add_parser("train", help="adapt the dense model to the indexed corpus (child process)"))
    sp.add_argument("--steps", type=int)
    sp.add_argument("--batch-size", type=int)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--weighting", choices=["relevance", "uniform"])
    sp.add_argument("--negatives", choices=["in_batch", "moco"],
                    help="in-batch negatives, or a MoCo queue and momentum encoder (the default on CPU)")
    sp.add_argument("--moco", action="store_true", help="the same as --negatives moco")
    sp.add_argument("--pair-weight", type=float)
    sp.add_argument("--positives", type=int, help="positive crops per anchor (default 4)")
    sp.add_argument("--max-crop-tokens", type=int, help="crop length cap in tokens")
    sp.add_argument("--alpha", type=float, help="interpolation weight with the base model")
    sp.add_argument("--supervised-weight", type=float,
                    help="weight of the few-shot term learnt from your marks (0 = ignore the marks; default 1)")
    sp.add_argument("--print-defaults", action="store_true",
                    help="print the detected device and default settings for this library as JSON, and exit")
    sp.add_argument("--no-activate", action="store_true")
    sp.add_argument("--request", metavar="FILE",
                    help="a training request as JSON ({\"config\": {TrainConfig fields}, \"select_alpha\", "
                         "\"activate\"}): what the window sends; the options above are ignored")
    sp.add_argument("--json-progress", action="store_true", help="one JSON progress object per line (for the GUI)")

    sp = common(sub.add_parser("judge", help="relevance marks: add, list, remove, export, import (BEIR files)"))
    sp.add_argument("action", choices=["add", "list", "remove", "export", "import"])
    sp.add_argument("args", nargs="*", help="add: QUERY FILE; list: [QUERY]; remove: QUERY [FILE]; "
                                            "export / import: FOLDER")
    sp.add_argument("--not-relevant", action="store_true", help="add: mark the file not relevant")
    sp.add_argument("--grade", type=int, help="add: a graded mark (0 not relevant, 1 relevant, 2 highly)")
    sp.add_argument("--split", default="test", help="export / import: the qrels file's name (qrels/SPLIT.tsv)")

    sp = common(sub.add_parser("models", help="model versions: list, activate, rollback, delete"))
    sp.add_argument("action", choices=["list", "activate", "rollback", "delete"], nargs="?", default="list")
    sp.add_argument("version", nargs="?")
    sp.add_argument("--json-progress", action="store_true", help="progress and the outcome as event lines (for the GUI)")

    sp = common(sub.add_parser("repair", help="rebuild a damaged index from your files (the damaged one is kept aside)"))
    sp.add_argument("--json-progress", action="store_true", help="one JSON progress object per line (for the GUI)")
    add_exclude_parser(sub, common)
    return p


_OPENED: list = []  # the services this command opened: what they noticed is told at the end (run_command)


def _service(args, **kw):
    from .service import SearchService

    svc = SearchService(args.data_dir, model=args.model, **kw)
    _OPENED.append(svc)
    svc.store.check_if_changed()  # a database changed since its last check is read through first
    return svc


def _filters(args):
    from .retrievers.base import Filters

    return Filters(folder=args.folder, exts=tuple(args.types), modified_after=args.after, modified_before=args.before)


def _print_hits(hits, as_json: bool) -> None:
    if as_json:
        return
    notice = getattr(hits, "notice", "")  # the query was read as plain words (query_plan.py)
    if notice:
        print(notice)
    if not hits:
        print("No results.")
    for h in hits:
        print(f"{h.rank:>3}. {h.score:8.4f}  {terminal_safe(h.path)}")
        if h.title:
            print(f"      {terminal_safe(h.title)}")
        print(f"      {terminal_safe(h.marked_snippet())}")


def _query_of(args) -> str:
    """The query as given, undecodable bytes replaced; an empty one is a clear error."""
    query = clean_text(args.query)
    if is_blank(query):
        raise KnownError("the query is empty: give a word or a phrase to search for")
    return query


def _dense_coverage(svc, retriever: str):
    """search_info.Coverage of the model behind `retriever` (None: BM25, or no model to ask)."""
    from .search_info import dense_coverage

    try:
        return dense_coverage(svc, retriever)
    except (KnownError, ValueError):
        return None


def _embedding_note(svc, retriever: str, hits) -> str | None:
    """Why a search that needs the model found little: how many passages have vectors (None: all do)."""
    cov = _dense_coverage(svc, retriever)
    if cov is None or cov.passages == 0 or cov.complete:
        return None
    done, total = cov.embedded, cov.passages
    what = (f"{done:,} of {total:,} passages are embedded for {svc.models.settings.model or 'the model'}"
            + (" (indexing ran with --no-embed, or stopped before embedding)" if done == 0
               else " (the rest are not searched by meaning yet)"))
    if retriever.startswith("hybrid") and done == 0:
        return f"{what}: these results are BM25 only. Run `desktop-search index` to embed them."
    if not hits or done == 0:
        return f"{what}. Run `desktop-search index` to embed them."
    return f"{what}. Run `desktop-search index` to embed the rest."


def _cancelled(json_lines: bool, message: str, stream=None) -> int:
    """A job stopped by Ctrl-C or SIGTERM: say so (a "cancelled" event, or the message on
    `stream`, stderr by default) and return the exit code 130."""
    if json_lines:
        emit(EventType.CANCELLED, message=message)
    else:
        print(message, file=stream or sys.stderr, flush=True)
    return 130


def _cancel_on_sigterm() -> CancelToken:
    import signal

    cancel = CancelToken()
    signal.signal(signal.SIGTERM, lambda *_: cancel.cancel())
    return cancel


def cmd_index(args) -> int:
    if args.json_progress:
        background_priority()

    cancel = _cancel_on_sigterm()
    with _service(args) as svc:
        try:
            last = run_job(svc.index(args.paths or None, cancel=cancel, retry_failed=args.retry_failed,
                                     embed=not args.no_embed), json_lines=args.json_progress)
        except (Cancelled, KeyboardInterrupt):
            return _cancelled(args.json_progress or args.json,
                              "Indexing cancelled; run the same command again to resume.")
        stats = last.stats if last else {}
        if args.json or args.json_progress:
            emit(EventType.DONE, **stats)
        else:
            print(f"Indexed {stats.get('indexed', 0)} files ({stats.get('chunks', 0)} passages); "
                  f"skipped {stats.get('skipped', 0)}, failed {stats.get('failed', 0)}. "
                  f"Run `desktop-search status` for details.")
            if stats.get("excluded"):
                print(f"{stats['excluded']:,} files or folders left out by exclusion patterns "
                      "(`desktop-search exclude list`).")
            for path in stats.get("folders_removed", ()):
                print(f"{terminal_safe(path)} was removed from the library while indexing ran: none of its files "
                      "were indexed (add it again with `desktop-search index FOLDER`).")
    return 0


def cmd_status(args) -> int:
    with _service(args) as svc:
        svc.check_health()  # reads every page and vector file: a damaged one is told (run_command)
        st = svc.status()
        coverage = _dense_coverage(svc, "dense")
        busy = lock_holder(svc.data_dir)
    if args.json:
        if coverage is not None:
            st["dense_coverage"] = coverage.to_dict()
        if busy is not None:
            st["busy"] = {"pid": busy.pid, "what": busy.what, "command": busy.command, "since": busy.since}
        print(json.dumps(st, indent=2))
        return 0
    safe = terminal_safe
    print(f"Store: {safe(st['data_dir'])}")
    if busy is not None:
        print(f"{busy.describe()} now: {safe(busy.command)}")
    sz = st["size_bytes"]
    print(f"Size on disk: database {sz['database'] / 1e6:.1f} MB, vectors {sz['vectors'] / 1e6:.1f} MB")
    c = st["counts"]
    print(f"Files: {c['indexed']} indexed, {c['skipped']} skipped, {c['failed']} failed; {c['chunks']} passages")
    for f in st["folders"]:
        flag = "" if f["exists"] else "  (not found)"
        print(f"  {safe(f['path'])}{flag}: {f['indexed']} indexed, {f['skipped']} skipped, {f['failed']} failed, "
              f"{f['chunks']} passages, about {f['index_bytes'] / 1e6:.1f} MB of index")
    for m in st["models"]:
        print(f"Model {safe(m['name'])} [{safe(m['key'])}]: {m['vectors']} vectors")
    if coverage is not None and coverage.line():
        print(f"{coverage.line()}: dense and hybrid search only those until `desktop-search index` embeds the rest")
    if st["problems"]:
        print("Not indexed:")
        for p in st["problems"]:
            print(f"  {p['status']:8} {safe(p['path'])}: {safe(p['reason'] or '')}")
    if st.get("partial"):
        print("Indexed in part:")
        for p in st["partial"]:
            print(f"  indexed ({safe(p['reason'])}) {safe(p['path'])}")
    ex = st.get("exclusions") or {}
    for where, patterns in [("every folder", ex.get("global", []))] + list(ex.get("folders", {}).items()):
        if patterns:
            print(f"Excluded in {safe(where)}: {', '.join(safe(p) for p in patterns)}")
    return 0


def cmd_remove(args) -> int:
    with _service(args) as svc:
        n = svc.remove_folder(args.path)
    print(json.dumps({"removed_files": n}) if args.json else f"Removed {terminal_safe(args.path)} ({n} files).")
    return 0


def cmd_search(args) -> int:
    query = _query_of(args)
    with _service(args, hybrid_method=args.hybrid) as svc:
        t = time.perf_counter()
        hits = svc.search(query, args.retriever, args.k, _filters(args))
        ms = (time.perf_counter() - t) * 1000
        note = _embedding_note(svc, args.retriever, hits)
        coverage = _dense_coverage(svc, args.retriever)
    if args.json:
        out = {"query": query, "retriever": args.retriever, "ms": round(ms, 2), "hits": [h.to_dict() for h in hits]}
        if coverage is not None:
            out["dense_coverage"] = coverage.to_dict()
        if getattr(hits, "notice", ""):
            out["notice"] = hits.notice
            out["ranked_query"] = hits.query
        if note:
            out["note"] = note
        print(json.dumps(out, indent=2))
    else:
        if coverage is not None and coverage.line():
            print(coverage.line())  # first: what the ranking below was chosen from
        _print_hits(hits, False)
        if note:
            print(note, file=sys.stderr if hits else sys.stdout)
    return 0


def cmd_compare(args) -> int:
    names = [r.strip() for r in args.retrievers.split(",") if r.strip()]
    query = _query_of(args)
    from .retrievers.registry import parse_name

    try:
        for name in names:
            parse_name(name)
    except ValueError as e:
        raise KnownError(str(e)) from None
    with _service(args, hybrid_method=args.hybrid) as svc:
        res = svc.compare(query, names, args.k, _filters(args))
        notes = [n for n in (_embedding_note(svc, name, res["columns"][name]) for name in names) if n][:1]
    if args.json:
        out = dict(res)
        out["columns"] = {n: [h.to_dict() for h in hs] for n, hs in res["columns"].items()}
        if notes:
            out["note"] = notes[0]
        print(json.dumps(out, indent=2))
        return 0
    cols = res["columns"]
    width = 36
    print("rank  " + "".join(f"{n:<{width}}" for n in cols))
    for i in range(args.k):
        row = []
        for n in cols:
            hs = cols[n]
            row.append((terminal_safe(hs[i].label)[: width - 2] if i < len(hs) else ""))
        print(f"{i + 1:>4}  " + "".join(f"{c:<{width}}" for c in row))
    for pair, a in res["pairs"].items():
        tau = "n/a" if a["kendall_tau"] is None else f"{a['kendall_tau']:.2f}"
        print(f"{pair}: overlap@{args.k} {a['overlap_at_k']:.2f}, Jaccard {a['jaccard']:.2f}, Kendall tau {tau}")
    for n in notes:
        print(n)
    for label, notice in res.get("notices", {}).items():
        print(f"{label}: {notice}")
    return 0


def cmd_exclude(args) -> int:
    from .cli_exclude import cmd_exclude as run_exclude

    with _service(args) as svc:
        return run_exclude(args, svc)


def cmd_eval(args) -> int:
    from .evaluation import evaluate_beir

    if args.judgments:
        return _eval_judgments(args)
    if not args.beir_dir:
        raise KnownError("eval needs a BEIR folder, or --judgments to score your own marks")

    names = [r.strip() for r in args.retriever.split(",") if r.strip()]
    res = evaluate_beir(args.beir_dir, names, model=args.model, split=args.split,
                        max_queries=args.max_queries or None, keep_dir=args.keep,
                        progress=lambda pr: None if args.json else None, bar=not args.json)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print(f"{res['dataset']}: {res['n_docs']} documents, {res['n_queries']} queries")
        for name, m in res["metrics"].items():
            print(f"  {name:8} nDCG@10 {m['ndcg@10'] * 100:5.1f}  Recall@100 {m['recall@100'] * 100:5.1f}  "
                  f"MRR@10 {m['mrr@10'] * 100:5.1f}  p50 {m['query_ms_p50']:.1f} ms")
    return 0


def _eval_judgments(args) -> int:
    from .judged_eval import evaluate_judgments

    names = {r.strip() for r in args.retriever.split(",") if r.strip()}
    with _service(args) as svc:
        res = evaluate_judgments(svc, dense=bool(names & {"dense", "hybrid"}))
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    if not res["enough"]:
        print(res["message"])
        return 0
    print(f"Your judgments: {res['n_queries']} queries with a relevant mark. {res['note']}")
    width = max([22, *(len(n) + 1 for n in res["columns"])])  # a long version id keeps the columns aligned
    for name, m in res["columns"].items():
        held = f"  (on {m['n_queries']} queries it did not train on)" if m["held_out"] else ""
        print(f"  {name:{width}} nDCG@10 {m['ndcg@10'] * 100:5.1f}  MRR@10 {m['mrr@10'] * 100:5.1f}  "
              f"Recall@10 {m['recall@10'] * 100:5.1f}{held}")
    for name, c in res["versus_base"].items():
        deep = c.get("deep") or {}
        deeper = (f"; nDCG@100 {deep['delta'] * 100:+.1f} ({deep['low'] * 100:+.1f} to {deep['high'] * 100:+.1f})"
                  if deep else "")
        print(f"  {name} vs base: {c['delta'] * 100:+.1f} nDCG@10 (95% CI {c['low'] * 100:+.1f} to "
              f"{c['high'] * 100:+.1f}, {c['n']} queries){deeper}")
    for vid, why in res["skipped"].items():
        print(f"  {vid}: not scored, {why}")
    for vid, v in res.get("verdict", {}).items():
        if vid not in res["skipped"]:
            print(f"  did {vid} help? {v['text']}")
    return 0


def _doc_for(svc, path: str):
    from .util import raw_path

    doc = svc.store.doc_by_path(raw_path(os.path.abspath(path)))
    if doc is None:
        raise KnownError(f"{path} is not an indexed file (see `desktop-search status`)")
    return doc


def cmd_judge(args) -> int:
    from . import judgments

    a = list(args.args)
    if a and args.action in ("add", "list", "remove"):
        a[0] = clean_text(a[0])  # the query; file and folder paths keep their bytes
    usage = {"add": ("QUERY FILE", 2, 2), "list": ("[QUERY]", 0, 1), "remove": ("QUERY [FILE]", 1, 2),
             "export": ("FOLDER", 1, 1), "import": ("FOLDER", 1, 1)}[args.action]
    if not usage[1] <= len(a) <= usage[2]:
        raise KnownError(f"usage: desktop-search judge {args.action} {usage[0]}")
    with _service(args) as svc:
        if args.action == "add":
            grade = args.grade if args.grade is not None else (0 if args.not_relevant else 1)
            doc = _doc_for(svc, a[1])
            jid = svc.mark(a[0], doc.id, grade, retriever="cli")
            out = {"id": jid, "query": a[0], "path": doc.path, "grade": grade}
            text = (f"Marked {terminal_safe(doc.path)} {'relevant' if grade > 0 else 'not relevant'} "
                    f"for {terminal_safe(repr(a[0]))}.")
        elif args.action == "list":
            rows = svc.store.judgments(a[0] if a else None)
            out = [{k: v for k, v in r.to_dict().items() if k != "passage"} for r in rows]
            text = "\n".join(f"{'+' if r.relevant else '-'}{r.grade}  {terminal_safe(repr(r.query))}  "
                             f"{terminal_safe(r.path)}" for r in rows) or "No judgments yet."
        elif args.action == "remove":
            n = svc.unmark(a[0], _doc_for(svc, a[1]).id if len(a) > 1 else None)
            out = {"removed": n}
            text = f"Removed {n} mark(s)."
        elif args.action == "export":
            out = judgments.export_beir(svc.store, a[0], args.split)
            text = f"Wrote {out['judgments']} judgments of {out['queries']} queries to {out['folder']}."
        else:
            out = judgments.import_beir(svc.store, a[0], args.split)
            text = (f"Imported {out['imported']} judgments of {out['queries']} queries"
                    + (f"; {out['unmatched_files']} named files not in this library" if out["unmatched_files"] else "")
                    + ".")
    print(json.dumps(out, indent=2) if args.json else text)
    return 0


def print_defaults(args) -> int:
    """The device and the default settings for this library (torch loads here, not in the window)."""
    from training.trainer import defaults_for, resolve_device

    with _service(args) as svc:
        n = svc.store.counts()["chunks"]
    device = resolve_device("auto")
    name = ""
    if device.startswith("cuda"):
        import torch

        name = torch.cuda.get_device_name(0)
    print(json.dumps({"device": device, "name": name, "cpus": os.cpu_count(), "n_passages": n,
                      "config": defaults_for(device, n).to_dict()}), flush=True)
    return 0


def cmd_train(args) -> int:
    from .jobs.training import TrainRequest

    if args.print_defaults:
        return print_defaults(args)
    if args.json_progress:
        background_priority()
    cancel = _cancel_on_sigterm()
    request = TrainRequest.load(args.request) if args.request else _train_request(args)
    json_lines = args.json_progress or args.json
    with _service(args) as svc:
        try:
            last = run_job(svc.train(request.config, select_alpha=request.select_alpha, activate=request.activate,
                                     cancel=cancel), json_lines=json_lines)
        except (Cancelled, KeyboardInterrupt):
            return _cancelled(json_lines, "Training cancelled; run the same command again to resume from the "
                                          "last checkpoint.", stream=sys.stdout)
    stats = last.stats if last else {}
    if json_lines:
        emit(EventType.DONE, message=last.message, **stats)
    else:
        print(last.message)
    return 0


def _train_request(args):
    """The request the command-line options make."""
    from .jobs.training import TrainRequest

    overrides = {"seed": args.seed}
    for key, val in (("steps", args.steps), ("batch_size", args.batch_size), ("weighting", args.weighting),
                     ("pair_alpha", args.pair_weight), ("interpolation_alpha", args.alpha),
                     ("n_positives", args.positives), ("max_crop_tokens", args.max_crop_tokens),
                     ("supervised_weight", args.supervised_weight)):
        if val is not None:
            overrides[key] = val
    if args.negatives or args.moco:
        overrides["negatives"] = args.negatives or "moco"
    return TrainRequest(overrides, select_alpha=args.alpha is None, activate=not args.no_activate)


def cmd_models(args) -> int:
    with _service(args) as svc:
        vs = svc.versions
        if args.action == "list":
            active = vs.active_id()
            rows = [{"id": "base", "path": svc.base_model_path(), "active": active == "base"}]
            rows += [{**v.to_json(), "active": v.id == active} for v in vs.list()]
            if args.json:
                print(json.dumps(rows, indent=2))
            else:
                for r in rows:
                    mark = "*" if r["active"] else " "
                    alpha = r.get("settings", {}).get("alpha")
                    print(f"{mark} {r['id']:28} {'' if alpha is None else f'alpha {alpha}'}")
            return 0
        if args.action in ("rollback", "activate"):
            target = "base" if args.action == "rollback" else args.version
            if not target:
                raise KnownError("which version? see `desktop-search models list`")
            # vectors first: the version becomes active only once every passage has one
            run_job(svc.embed(svc.encoder_for(target)), json_lines=args.json_progress,
                    bar=not (args.json or args.json_progress))
            svc.activate_version(target)
        else:
            if not args.version:
                raise KnownError("which version? see `desktop-search models list`")
            svc.delete_version(args.version)
            print(json.dumps({"deleted": args.version}) if args.json else f"Deleted {args.version}.")
            return 0
        if args.json_progress:
            emit(EventType.DONE, active=target)
        else:
            print(json.dumps({"active": target}) if args.json else f"Active model: {target}")
    return 0


def cmd_repair(args) -> int:
    """Keep the damaged database aside and rebuild the index from the files (service.repair_library)."""
    from .service import repair_library

    if args.json_progress:
        background_priority()
    cancel = _cancel_on_sigterm()
    try:
        last = run_job(repair_library(args.data_dir, model=args.model, cancel=cancel),
                       json_lines=args.json_progress, bar=not args.json)
    except (Cancelled, KeyboardInterrupt):
        return _cancelled(args.json_progress or args.json,
                          "Repair cancelled; run `desktop-search repair` again to finish it.")
    stats = last.stats if last else {}
    if args.json or args.json_progress:
        emit(EventType.DONE, message=last.message if last else "", **stats)
    else:
        print(last.message if last else "Repaired.")
        for problem in stats.get("salvage_problems", []):
            print(f"  not salvaged: {problem}")
    return 0


def _known_fault(e: BaseException, args) -> BaseException:
    """The KnownError a database or disk error stands for (store/health.py), else `e`."""
    import sqlite3

    if not isinstance(e, (sqlite3.Error, OSError)):
        return e
    from .config import default_data_dir
    from .store.health import known_error

    data_dir = args.data_dir or default_data_dir()
    return known_error(e, os.path.join(str(data_dir), "library.sqlite3"))


def _tell_notices(told: str = "") -> None:
    """Print what the services of this command noticed (a damaged store, a rebuilt vector file)."""
    seen = {told}
    for svc in _OPENED:
        try:
            notes = svc.notices()
        except Exception:  # noqa: BLE001 - a notice must never turn into an error
            notes = []
        for n in notes:
            if n not in seen:
                seen.add(n)
                print(f"desktop-search: {terminal_lines(n)}", file=sys.stderr)
    _OPENED.clear()


COMMANDS = {"repair": cmd_repair, "index": cmd_index, "status": cmd_status, "remove": cmd_remove, "search": cmd_search,
            "compare": cmd_compare, "eval": cmd_eval, "train": cmd_train, "models": cmd_models, "judge": cmd_judge,
            "exclude": cmd_exclude}


def run_command(args) -> int:
    """Run the parsed command; known errors become a message (or {"error"} with --json) and exit code 2."""
    from training.versions import VersionError

    try:
        try:
            code = COMMANDS[args.command](args)
        except VersionError as e:
            raise KnownError(str(e)) from e
        except Exception as e:  # noqa: BLE001 - a full disk or damaged database: the message for it
            known = _known_fault(e, args)
            if known is e:
                raise
            raise known from e
        _tell_notices()
        return code
    except KnownError as e:
        if getattr(args, "json_progress", False):  # a window's child: a busy store is waited for, not an error
            emit(EventType.ERROR, message=str(e), **({"code": STORE_LOCKED} if isinstance(e, StoreLocked) else {}))
        if getattr(args, "json", False):
            print(json.dumps({"error": str(e)}))
        else:
            print(f"desktop-search: {terminal_lines(str(e))}", file=sys.stderr)  # messages name files
        _tell_notices(str(e))
        return 2
    except KeyboardInterrupt:
        return 130
