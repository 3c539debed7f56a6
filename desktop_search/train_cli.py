"""`desktop-search train` and `desktop-search models`: adaptation runs and model versions from the command line."""

from __future__ import annotations

import json
import signal
import sys

from .errors import Cancelled, KnownError


def _service(args):
    from .search import SearchService

    return SearchService(args.data_dir, model=args.model)


def print_defaults(args) -> int:
    """The device and the default settings for this library (torch loads here, not in the window)."""
    import os

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
    from .cli import run_job
    from .jobs import CancelToken

    if args.print_defaults:
        return print_defaults(args)
    if args.json_progress:
        from .cli import background_priority

        background_priority()

    cancel = CancelToken()
    signal.signal(signal.SIGTERM, lambda *_: cancel.cancel())
    overrides = {"seed": args.seed}
    for key, val in (("steps", args.steps), ("batch_size", args.batch_size), ("weighting", args.weighting),
                     ("pair_alpha", args.pair_weight), ("interpolation_alpha", args.alpha),
                     ("n_positives", args.positives), ("max_crop_tokens", args.max_crop_tokens)):
        if val is not None:
            overrides[key] = val
    if args.negatives or args.moco:
        overrides["negatives"] = args.negatives or "moco"
    json_lines = args.json_progress or args.json
    with _service(args) as svc:
        try:
            last = run_job(svc.train(overrides, select_alpha=args.alpha is None, activate=not args.no_activate,
                                     cancel=cancel), json_lines=json_lines)
        except (Cancelled, KeyboardInterrupt):
            msg = "Training cancelled; run the same command again to resume from the last checkpoint."
            print(json.dumps({"event": "cancelled", "message": msg}) if json_lines else msg, flush=True)
            return 130
    stats = last.stats if last else {}
    if json_lines:
        print(json.dumps({"event": "done", "message": last.message, **stats}), flush=True)
    else:
        print(last.message)
    return 0


def cmd_models(args) -> int:
    from .cli import run_job

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
            run_job(svc.embed(svc.encoder_for(target)), json_lines=args.json, bar=not args.json)
            svc.activate_version(target)
        else:
            if not args.version:
                raise KnownError("which version? see `desktop-search models list`")
            svc.delete_version(args.version)
            print(json.dumps({"deleted": args.version}) if args.json else f"Deleted {args.version}.")
            return 0
        print(json.dumps({"active": target}) if args.json else f"Active model: {target}")
    return 0


def main(args) -> int:
    from training.versions import VersionError

    try:
        return cmd_train(args) if args.command == "train" else cmd_models(args)
    except VersionError as e:
        raise KnownError(str(e)) from e
