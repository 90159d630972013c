"""The `tuner` command line. `main(argv) -> int`: 0 success, 2 bad input, 1 failure."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from tuner.errors import ConfigError, Fatal
from tuner.quiet import import_keras_quietly
from tuner.strategies.registry import strategy_names

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
DISTRIBUTION = "keras-hp-tuner"


def _pack_value(text: str) -> int | str:
    """``--pack auto`` or ``--pack N``; the campaign's rule table judges the value."""
    try:
        return int(text)
    except ValueError:
        return text


def _search(args: argparse.Namespace) -> int:
    import_keras_quietly()
    from tuner import api, console, loop
    from tuner.campaign import load_campaign

    campaign = load_campaign(args.campaign)
    overrides = {
        key: value
        for key, value in (
            ("strategy", args.strategy),
            ("max_trials", args.max_trials),
            ("epochs", args.epochs),
            ("seed", args.seed),
            ("results_dir", args.results_dir),
            ("pack", args.pack),
        )
        if value is not None
    }
    if overrides:
        campaign = campaign.replace(**overrides)
    plan = loop.make_plan(campaign)  # every check, before anything is written or deleted
    found = api.run_plan(
        plan, overwrite=args.overwrite, overwrite_hint="--overwrite", quiet=args.quiet
    )
    completed = found.table[found.table["status"] == "completed"]
    if not args.quiet and len(found.table):
        print()
        print(console.final_table(found.table, objective=campaign.objective, top=args.top))
        best = (
            f"best {campaign.objective} = {completed.iloc[0]['score']:.4f}"
            if len(completed)
            else "no trial completed"
        )
        print(f"\n{len(found.table)} trials; {best}; table in {campaign.folder / 'trials.csv'}")
    if completed.empty:
        errors = found.table["error"].dropna()
        last = f"; last error: {errors.iloc[-1]}" if len(errors) else ""
        print(f"tuner: failed: no trial completed in {campaign.folder}{last}", file=sys.stderr)
        return 1
    return 0


def _results(args: argparse.Namespace) -> int:
    import_keras_quietly()  # the store's module imports Keras
    from tuner import results

    names = list(args.names)
    if names[0] == "compare":
        if len(names) < 2:
            raise ConfigError(
                "`tuner results compare` needs at least one campaign name or folder, but got none."
            )
        table = results.compare(names[1:], args.results_dir)
    else:
        if len(names) > 1:
            raise ConfigError(
                f"`tuner results` shows one campaign, but got {names}; "
                "use `tuner results compare A B ...` to compare campaigns."
            )
        if args.rebuild:
            _rebuild(names[0], args.results_dir)
        table = results.load(names[0], args.results_dir)
        _warn_if_short(names[0], args.results_dir, table)
    top = args.top if args.top is not None else (None if args.format in ("csv", "json") else 20)
    if top is not None:
        table = table.head(top)
    sys.stdout.write(results.format_table(table, args.format))
    return 0


def _rebuild(name: str, results_dir: str) -> None:
    """Rebuild a results folder's engine state and tables from its records, saying what was
    damaged and what was done."""
    import_keras_quietly()
    import tomllib

    import keras_tuner as kt

    from tuner import loop
    from tuner.campaign import from_dict
    from tuner.space import AUTO_LEARNING_RATE
    from tuner.store import disk
    from tuner.strategies import _keras_tuner, create_oracle

    folder = disk.resolve_folder(name, results_dir)
    text = disk.saved_campaign_text(folder)
    if text is None:
        raise ConfigError(f"{folder} holds no campaign.toml; is it a results folder?")
    try:
        campaign = from_dict(tomllib.loads(text), source=str(folder / disk.CAMPAIGN_FILE))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{folder / disk.CAMPAIGN_FILE} is damaged ({error}).") from None
    for path, reason in disk.set_aside_damaged_records(folder):
        print(f"{path} {reason}: moved aside to {path.name}.damaged")
    objective = kt.Objective(campaign.objective, campaign.direction)
    entries = {k: v for k, v in campaign.space.items() if v not in AUTO_LEARNING_RATE}
    engine = folder / disk.ENGINE_FOLDER
    if len(entries) < len(campaign.space):
        # learning_rate = "auto": the oracle's space is known once the search resolves it.
        for problem in _keras_tuner.engine_damage(engine) if _keras_tuner.has_state(engine) else []:
            print(problem)
        _keras_tuner.clear_state(engine)
        print("engine state cleared: the next `tuner search` rebuilds it from the records")
    else:
        oracle = create_oracle(
            campaign.strategy,
            objective=objective,
            hyperparameters=loop.space_for(campaign, entries),
            max_trials=campaign.max_trials,
            seed=campaign.seed,
            epochs=campaign.epochs,
            options=campaign.strategy_options,
            max_consecutive_failures=campaign.max_consecutive_failures,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", disk.Repaired)
            loop.attach_oracle(oracle, folder, rebuild=True)
        for warning in caught:
            print(warning.message)
    store = disk.DiskStore(
        folder,
        objective,
        keep_top=campaign.keep_top,
        hyperparameter_names=list(campaign.space),
        settings=campaign.to_dict(),
    )
    store.flush()
    print(
        f"{len(store.records())} finished trial(s) in {folder / '.engine' / 'records'}; "
        f"trials.csv, history.csv and summary.md rewritten from them"
    )


def _warn_if_short(name: str, results_dir: str, table: object) -> None:
    from tuner.store import disk

    folder = disk.resolve_folder(name, results_dir)
    try:
        recorded = {r.trial_id for r in disk.read_records(folder)}
    except ConfigError as error:
        print(f"tuner: warning: {error}", file=sys.stderr)
        return
    listed = set(table["trial_id"])  # type: ignore[index]
    if recorded and listed != recorded:
        print(
            f"tuner: warning: {folder / 'trials.csv'} lists {len(listed)} trial(s) but "
            f"{len(recorded)} are recorded; `tuner results {name} --rebuild` rewrites it "
            "from the records",
            file=sys.stderr,
        )


def _report(args: argparse.Namespace) -> int:
    import_keras_quietly()
    from tuner.report import write_report

    print(write_report(args.name, args.results_dir, top=args.top))
    return 0


def _lr_find(args: argparse.Namespace) -> int:
    import_keras_quietly()
    from tuner.campaign import load_campaign
    from tuner.lr_range import parse_assignments, run_lr_find, suggestion_lines, write_lr_find

    overrides = parse_assignments(args.set)
    campaign = load_campaign(args.campaign)
    if args.results_dir is not None:
        campaign = campaign.replace(results_dir=args.results_dir)
    result = run_lr_find(
        campaign, overrides, start_lr=args.start_lr, end_lr=args.end_lr, num_iter=args.num_iter
    )
    for line in suggestion_lines(result):
        print(line)
    for path in write_lr_find(result, campaign.folder):
        print(f"wrote {path}")
    return 0


def version() -> str:
    """``keras-hp-tuner X.Y.Z``: the installed distribution's version."""
    try:
        return f"{DISTRIBUTION} {importlib.metadata.version(DISTRIBUTION)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{DISTRIBUTION} (not installed: version unknown)"


class _VersionAction(argparse.Action):
    """argparse's "version" action, but reading the version only when asked (~0.1 s)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="print the version and exit",
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(version())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tuner", description="Hyperparameter tuning for Keras models."
    )
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", required=True)

    search = commands.add_parser("search", help="run or resume a tuning campaign")
    search.add_argument("campaign", help="campaign file (TOML)")
    search.add_argument("--strategy", choices=strategy_names())
    search.add_argument("--max-trials", type=int)
    search.add_argument("--epochs", type=int)
    search.add_argument("--seed", type=int)
    search.add_argument("--results-dir")
    search.add_argument(
        "--pack",
        type=_pack_value,
        help='trials trained together in one model: "auto", or a number (1: off)',
    )
    search.add_argument("--overwrite", action="store_true", help="delete earlier results first")
    search.add_argument("--quiet", action="store_true", help="no progress lines")
    search.add_argument("--top", type=int, default=10, help="rows of the final table")
    search.set_defaults(handler=_search)

    shown = commands.add_parser(
        "results",
        help="show a campaign's ranked trials, or compare campaigns",
        description="tuner results NAME|DIR, or tuner results compare A B ...",
    )
    shown.add_argument(
        "names",
        nargs="+",
        metavar="NAME|DIR",
        help="a campaign name under --results-dir or a results folder; "
        "`compare A B ...` puts each campaign's best trial side by side",
    )
    shown.add_argument(
        "--top", type=int, help="rows to show (default: 20 for table/markdown, all for csv/json)"
    )
    shown.add_argument("--format", choices=["table", "csv", "markdown", "json"], default="table")
    shown.add_argument("--results-dir", default="results")
    shown.add_argument(
        "--rebuild",
        action="store_true",
        help="rebuild the engine's state and the tables from the per-trial records, "
        "saying what was damaged",
    )
    shown.set_defaults(handler=_results)

    report = commands.add_parser(
        "report", help="draw the plots and write report.html into a results folder"
    )
    report.add_argument("name", metavar="NAME|DIR")
    report.add_argument(
        "--top", type=int, default=20, help="rows of the ranked table in the report"
    )
    report.add_argument("--results-dir", default="results")
    report.set_defaults(handler=_report)

    lr = commands.add_parser(
        "lr-find",
        help="run the learning-rate range test on a campaign's model",
        description="Writes lr_find.png and lr_find.csv into the campaign's "
        "results folder and prints the suggested rates.",
    )
    lr.add_argument("campaign", help="campaign file (TOML)")
    lr.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="fix a hyperparameter of the model (repeatable); others take the "
        "campaign's fixed values or the builder's defaults",
    )
    lr.add_argument("--start-lr", type=float, default=1e-7)
    lr.add_argument("--end-lr", type=float, default=10.0)
    lr.add_argument("--num-iter", type=int, default=100, help="batches to run at most")
    lr.add_argument("--results-dir")
    lr.set_defaults(handler=_lr_find)
    return parser


def _repairs_as_lines(show: Callable[..., None]) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints each repair of a results folder as one line and
    hands every other warning to `show`."""

    def show_warning(message: Warning | str, category: type[Warning], *args: Any) -> None:
        # Not imported here: a warning raised while Keras itself imports (PyTorch's about CUDA)
        # would import the store, and Keras through it, half-initialised. No store, no repair.
        disk = sys.modules.get("tuner.store.disk")
        if disk is not None and issubclass(category, disk.Repaired):
            print(f"tuner: repaired: {message}", file=sys.stderr)
        else:
            show(message, category, *args)

    return show_warning


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _repairs_as_lines(warnings.showwarning)
            return args.handler(args)
    except ConfigError as error:
        print(f"tuner: error: {error}", file=sys.stderr)
        return 2
    except Fatal as error:
        print(f"tuner: failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "tuner: interrupted; finished trials are kept, run the same command to resume",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
