"""The `tuner` command line. `main(argv) -> int`: 0 success, 2 bad input, 1 failure."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.errors import ConfigError, Fatal, Interrupted
from tuner.quiet import import_keras_quietly
from tuner.strategies.registry import strategy_names

if TYPE_CHECKING:
    from tuner.campaign import Campaign
    from tuner.datasets import Dataset

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
DISTRIBUTION = "keras-hp-tuner"
DEFAULT_PORT = 8470


def _integer(text: str) -> int:
    """A whole-number option's value; anything else is one line of argparse's error."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, but got {text!r}") from None


def _number(text: str) -> float:
    """A numeric option's value (``1e-7``, ``60``); anything else is one line of error."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, but got {text!r}") from None


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake on the command line is one line on stderr (exit 2), as every
    other bad input is, instead of the usage text followed by the error."""

    def error(self, message: str) -> Any:
        text = message.removeprefix("argument ")
        if ": expected " not in text:  # argparse's own checks: say where the options are listed
            text += f" (`{self.prog} --help` lists the options)"
        self.exit(2, f"tuner: error: {text}\n")


def _pack_value(text: str) -> int | str:
    """``--pack auto`` or ``--pack N``; the campaign's rule table judges the value."""
    try:
        return int(text)
    except ValueError:
        return text


def _flag_value(text: str) -> bool | str:
    """``true``/``false`` (any case: the workers are passed ``True``) or a word such as
    ``auto``; the campaign's rule table judges the value."""
    return {"true": True, "false": False}.get(text.strip().lower(), text)


def _duration_value(text: str) -> float | str:
    """A number of seconds (``"90"``), else the text (``"1h30m"``): the campaign's rule table
    judges it."""
    try:
        return float(text)
    except ValueError:
        return text


# The settings a command line may override, as (option, campaign field).
OVERRIDES = (
    ("--strategy", "strategy"),
    ("--max-trials", "max_trials"),
    ("--max-time", "max_time"),
    ("--pruning", "pruning"),
    ("--epochs", "epochs"),
    ("--seed", "seed"),
    ("--results-dir", "results_dir"),
    ("--pack", "pack"),
    ("--cv", "cross_validation"),
    ("--mixed-precision", "mixed_precision"),
    ("--jit-compile", "jit_compile"),
)


def _campaign_data(campaign: Campaign) -> Dataset:
    """The campaign's data, loaded (and so checked) before Keras starts, as the file is: a
    wrong key, range or dataset costs a second or two, not Keras' 8-10 s."""
    from tuner.datasets import load_campaign_data  # scikit-learn: after the file's own checks

    return load_campaign_data(campaign)


def _say(line: str) -> None:
    print(line, flush=True)  # a chief's lines reach a pipe (a log, a test) as they happen


def _campaign(args: argparse.Namespace) -> Campaign:
    """The campaign file with the command line's overrides."""
    from tuner.campaign import load_campaign

    campaign = load_campaign(args.campaign)
    overrides = {
        field: getattr(args, field)
        for _, field in OVERRIDES
        if getattr(args, field, None) is not None
    }
    return campaign.replace(**overrides) if overrides else campaign


def _override_flags(args: argparse.Namespace) -> list[str]:
    """The command line's overrides as options again (for the workers a search starts)."""
    flags = []
    for option, field in OVERRIDES:
        value = getattr(args, field, None)
        if value is not None:
            flags += [option, str(value)]
    return flags


def _search(args: argparse.Namespace) -> int:
    if args.workers is not None:
        from tuner.distributed.local import check_workers

        check_workers(args.workers, "--workers")
    campaign = _campaign(args)
    dataset = _campaign_data(campaign)
    import_keras_quietly()
    from tuner import run
    from tuner.plan import make_plan

    plan = make_plan(campaign, dataset=dataset)  # every check, before anything is written
    if args.workers is not None:
        found = _search_with_workers(plan, args)
    else:
        found = run.run_plan(
            plan,
            overwrite=args.overwrite,
            overwrite_hint="--overwrite",
            quiet=args.quiet,
            print_line=_say,
            terminal=sys.stdout if sys.stdout.isatty() else None,
        )
    return _finish(found, args)


def _search_with_workers(plan: Any, args: argparse.Namespace) -> Any:
    """A chief in this process and `args.workers` worker processes on this machine."""
    from tuner import run
    from tuner.distributed.local import search_with_workers

    found = search_with_workers(
        plan,
        args.workers,
        lambda: [args.campaign, *_override_flags(args)],
        overwrite=args.overwrite,
        quiet=args.quiet,
        print_line=_say,
    )
    if found.ran == 0 and found.records and not args.quiet:
        _say(
            f"campaign {plan.campaign.name!r} already has {len(found.records)} finished "
            f"trial(s) in {plan.campaign.folder}; nothing new ran (raise "
            f"{run.limit_reached(found)} to run more, or start over with --overwrite)"
        )
    return found


def _finish(found: Any, args: argparse.Namespace) -> int:
    """The final table and best score of a search; 1 when no trial completed."""
    from tuner import console
    from tuner.store.folder import ResultsFolder
    from tuner.trial import SCORED

    campaign = found.campaign
    completed = found.table[found.table["status"].isin(SCORED)]
    if not args.quiet and len(found.table):
        print()
        primary = campaign.objectives[0][0]
        others = [name for name, _ in campaign.objectives[1:]]
        print(console.final_table(found.table, objective=primary, top=args.top, also=others))
        best = (
            f"best {primary} = {completed.iloc[0]['score']:.4f}"
            if len(completed)
            else "no trial completed"
        )
        if campaign.multi_objective and len(completed):
            best += f"; {len(found.pareto_front())} trial(s) on the Pareto front"
        print(
            f"\n{len(found.table)} trials; {best}; table in {ResultsFolder(campaign.folder).trials}"
        )
    if completed.empty:
        errors = found.table["error"].dropna()
        last = f"; last error: {errors.iloc[-1]}" if len(errors) else ""
        print(f"tuner: failed: no trial completed in {campaign.folder}{last}", file=sys.stderr)
        return 1
    return 0


def _chief(args: argparse.Namespace) -> int:
    from tuner.distributed import parse_address

    address = parse_address(args.bind, option="--bind", allow_any_port=True)
    _check_positive(args, "heartbeat_timeout", "worker_timeout")
    campaign = _campaign(args)
    dataset = _campaign_data(campaign)
    import_keras_quietly()
    from tuner.distributed.chief import Chief
    from tuner.plan import make_plan

    plan = make_plan(campaign, dataset=dataset)
    chief = Chief(
        plan,
        address,
        heartbeat_timeout_s=args.heartbeat_timeout,
        worker_timeout_s=args.worker_timeout,
        quiet=args.quiet,
        print_line=_say,
    )
    bound = chief.bind()
    chief.start(overwrite=args.overwrite)
    if not args.quiet:
        for line in chief.header([f"chief at {bound}"]):
            _say(line)
    extra = " ".join(_override_flags(args))
    _say(
        f"chief listening on {bound}; start workers with: tuner worker {args.campaign} "
        f"--chief {bound}{' ' + extra if extra else ''}"
    )
    return _finish(chief.run(), args)


def _check_positive(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        value = getattr(args, name)
        if not value > 0:
            option = "--" + name.replace("_", "-")
            raise ConfigError(f"{option} must be a number of seconds > 0, but got {value}.")


def _worker(args: argparse.Namespace) -> int:
    import socket

    from tuner.distributed import parse_address

    chief = parse_address(args.chief, option="--chief")
    tuner_id = args.id or f"{socket.gethostname()}-{os.getpid()}"
    if "/" in tuner_id or not tuner_id.strip():
        raise ConfigError(
            f"--id must be a non-empty name without '/', but got {tuner_id!r}; e.g. --id gpu0."
        )
    if args.max_pack is not None and args.max_pack < 1:
        raise ConfigError(f"--max-pack must be at least 1, but got {args.max_pack}.")
    from tuner.distributed.session import check_worker_campaign, check_worker_data

    campaign = _campaign(args)
    check_worker_campaign(campaign, args.campaign)  # before the data and Keras: refused at once
    if args.data is not None:  # the chief's own arrays (a Python search's in-memory data)
        from pathlib import Path

        from tuner.distributed.shared_data import load_saved_dataset

        dataset = load_saved_dataset(Path(args.data))  # the chief's by construction
    else:
        dataset = _campaign_data(campaign)
        check_worker_data(campaign, dataset, args.campaign)
    import_keras_quietly()
    from tuner.distributed.worker import run_worker
    from tuner.plan import make_plan

    plan = make_plan(campaign, dataset=dataset)
    ran = run_worker(plan, chief, tuner_id, max_pack=args.max_pack)
    _say(f"{tuner_id}: {ran} trial(s) run; the chief says the campaign is done")
    return 0


def _plot_best_so_far(names: Sequence[str], results_dir: str, path: Path) -> None:
    """The best-so-far comparison of `names` grouped by campaign (seeds): a PNG at `path` and
    its summary table beside it (``.csv``); their paths go to stderr, so that stdout stays the
    table in the chosen format."""
    from tuner.plots.best_so_far import best_so_far_comparison, draw_best_so_far, summary_table
    from tuner.results import campaign_runs

    if path.suffix.lower() != ".png":
        raise ConfigError(f"--plot must name a .png file, but got {str(path)!r}.")
    groups, objective, direction = campaign_runs(names, results_dir)
    info = best_so_far_comparison(groups, direction=direction, objective=objective)
    path.parent.mkdir(parents=True, exist_ok=True)
    draw_best_so_far(info).savefig(path, dpi=110, bbox_inches="tight")
    summary_table(info).to_csv(path.with_suffix(".csv"), index=False)
    print(f"wrote {path} and {path.with_suffix('.csv')}", file=sys.stderr)


def _results(args: argparse.Namespace) -> int:
    from tuner import results  # pandas only: Keras starts only for --rebuild

    names = list(args.names)
    if names[0] == "compare":
        if len(names) < 2:
            raise ConfigError(
                "`tuner results compare` needs at least one campaign name or folder, but got none."
            )
        table = results.compare(names[1:], args.results_dir)
        if args.plot is not None:
            _plot_best_so_far(names[1:], args.results_dir, Path(args.plot))
    else:
        if args.plot is not None:
            raise ConfigError(
                "--plot draws a comparison: use `tuner results compare A B ... --plot`."
            )
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

    from tuner.run import rebuild
    from tuner.store.folder import ResultsFolder

    rebuild(ResultsFolder.find(name, results_dir))


def _warn_if_short(name: str, results_dir: str, table: object) -> None:
    from tuner.store import ResultsFolder

    files = ResultsFolder.find(name, results_dir)
    try:
        recorded = {r.trial_id for r in files.read_records()}
    except ConfigError as error:
        print(f"tuner: warning: {error}", file=sys.stderr)
        return
    listed = set(table["trial_id"])  # type: ignore[index]
    if recorded and listed != recorded:
        print(
            f"tuner: warning: {files.trials} lists {len(listed)} trial(s) but "
            f"{len(recorded)} are recorded; `tuner results {name} --rebuild` rewrites it "
            "from the records",
            file=sys.stderr,
        )


def _report(args: argparse.Namespace) -> int:
    import_keras_quietly()
    from tuner.report import write_report

    print(write_report(args.name, args.results_dir, top=args.top))
    return 0


def _activations(args: argparse.Namespace) -> int:
    import_keras_quietly()
    from tuner.activation_report import write_activations
    from tuner.api import load_results

    results = load_results(args.name, args.results_dir)
    trial_ids = args.trial or None
    if args.all:
        # in the order run: "2" before "10"
        trial_ids = sorted((str(t) for t in results.table["trial_id"]), key=lambda t: (len(t), t))
    path = write_activations(
        results,
        trial_ids=trial_ids,
        trained=not args.initial_only,
        initial=args.initial or args.initial_only,
        samples=args.samples,
    )
    print(path)
    return 0


def _lr_find(args: argparse.Namespace) -> int:
    from tuner.campaign import load_campaign

    campaign = load_campaign(args.campaign)  # before Keras starts, as for a search
    if args.results_dir is not None:
        campaign = campaign.replace(results_dir=args.results_dir)
    import_keras_quietly()
    from tuner.lr_range import parse_assignments, run_lr_find, suggestion_lines, write_lr_find

    overrides = parse_assignments(args.set)
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


def _campaign_arguments(parser: argparse.ArgumentParser) -> None:
    """The campaign file and the settings a command line may override."""
    parser.add_argument("campaign", help="campaign file (TOML)")
    parser.add_argument("--strategy", choices=strategy_names())
    parser.add_argument("--max-trials", type=_integer)
    parser.add_argument(
        "--max-time",
        type=_duration_value,
        metavar="DURATION",
        help='stop starting trials after this much training, e.g. "30m", "1h30m" or seconds',
    )
    parser.add_argument(
        "--pruning",
        metavar="KIND",
        help='stop hopeless trials early: "median", "asha" or "none" (the campaign decides)',
    )
    parser.add_argument("--epochs", type=_integer)
    parser.add_argument("--seed", type=_integer)
    parser.add_argument("--results-dir")
    parser.add_argument(
        "--pack",
        type=_pack_value,
        help='trials trained together in one model: "auto", or a number (1: off)',
    )
    parser.add_argument(
        "--cv",
        type=_integer,
        metavar="K",
        dest="cross_validation",
        help="score each trial by K-fold cross-validation (K >= 2)",
    )
    parser.add_argument(
        "--mixed-precision",
        type=_flag_value,
        help="true (mixed_float16 on a GPU), false, mixed_float16 or mixed_bfloat16",
    )
    parser.add_argument(
        "--jit-compile", type=_flag_value, help="XLA: true, false or auto (as compiled)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tuner", description="Hyperparameter tuning for Keras models.")
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", required=True)

    search = commands.add_parser("search", help="run or resume a tuning campaign")
    _campaign_arguments(search)
    search.add_argument("--overwrite", action="store_true", help="delete earlier results first")
    search.add_argument("--quiet", action="store_true", help="no progress lines")
    search.add_argument("--top", type=_integer, default=10, help="rows of the final table")
    search.add_argument(
        "--workers",
        type=_integer,
        metavar="N",
        help="run the trials in N worker processes on this machine (a chief in this one)",
    )
    search.set_defaults(parser=search, handler=_search)

    chief = commands.add_parser(
        "chief",
        help="serve a campaign to workers on other machines (`tuner worker`)",
        description="Holds the campaign's oracle and serves it over KerasTuner's gRPC "
        "channel, which is unauthenticated and unencrypted: the default address is loopback. "
        "Workers need the results folder on a shared filesystem.",
    )
    _campaign_arguments(chief)
    chief.add_argument(
        "--bind",
        default=f"127.0.0.1:{DEFAULT_PORT}",
        metavar="HOST:PORT",
        help=f"address to listen on (default 127.0.0.1:{DEFAULT_PORT}; port 0: any free one)",
    )
    chief.add_argument(
        "--heartbeat-timeout",
        type=_number,
        default=60.0,
        metavar="S",
        help="seconds without a call before a worker's trials go to another (default 60)",
    )
    chief.add_argument(
        "--worker-timeout",
        type=_number,
        default=600.0,
        metavar="S",
        help="seconds without any worker before the chief gives up (default 600)",
    )
    chief.add_argument("--overwrite", action="store_true", help="delete earlier results first")
    chief.add_argument("--quiet", action="store_true", help="no progress lines")
    chief.add_argument("--top", type=_integer, default=10, help="rows of the final table")
    chief.set_defaults(parser=chief, handler=_chief)

    worker = commands.add_parser(
        "worker",
        help="run a chief's trials (`tuner chief`, or `tuner search --workers N`)",
        description="Give it the chief's campaign file (and overrides) and a --results-dir "
        "that reaches the chief's results folder on a shared filesystem.",
    )
    _campaign_arguments(worker)
    worker.add_argument("--chief", required=True, metavar="HOST:PORT", help="the chief's address")
    worker.add_argument("--id", help="this worker's name (default: host name and process id)")
    worker.add_argument(
        "--max-pack", type=_integer, metavar="N", help="train at most N trials as one model"
    )
    worker.add_argument(
        "--data",
        metavar="FILE.npz",
        help="train on the chief's data as `tuner.search(..., workers=N)` saves it "
        "(the campaign's dataset key is then not read)",
    )
    worker.set_defaults(parser=worker, handler=_worker)

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
        "--top",
        type=_integer,
        help="rows to show (default: 20 for table/markdown, all for csv/json)",
    )
    shown.add_argument("--format", choices=["table", "csv", "markdown", "json"], default="table")
    shown.add_argument("--results-dir", default="results")
    shown.add_argument(
        "--plot",
        metavar="FILE.png",
        help="with compare: draw the best score so far against trials and epochs, campaigns "
        "of one name (seeds) as one mean line and band; a summary .csv goes beside it",
    )
    shown.add_argument(
        "--rebuild",
        action="store_true",
        help="rebuild the engine's state and the tables from the per-trial records, "
        "saying what was damaged",
    )
    shown.set_defaults(parser=shown, handler=_results)

    report = commands.add_parser(
        "report", help="draw the plots and write report.html into a results folder"
    )
    report.add_argument("name", metavar="NAME|DIR")
    report.add_argument(
        "--top", type=_integer, default=20, help="rows of the ranked table in the report"
    )
    report.add_argument("--results-dir", default="results")
    report.set_defaults(parser=report, handler=_report)

    activations = commands.add_parser(
        "activations",
        help="draw a histogram of each hidden layer's activations for a trial's model",
        description="Writes activations.png (the best trial), activations_trial_ID.png (one "
        "--trial) or activations_trials.png (several) into the results folder: the kept "
        "trained model, and with --initial the model rebuilt untrained from the trial's "
        "hyperparameters, on the same validation inputs.",
    )
    activations.add_argument("name", metavar="NAME|DIR")
    activations.add_argument(
        "--trial",
        action="append",
        metavar="ID",
        help="a trial to draw (repeatable; default: the best)",
    )
    activations.add_argument(
        "--all", action="store_true", help="every trial, one row each (a small grid)"
    )
    activations.add_argument(
        "--initial", action="store_true", help="also draw the model at initialisation"
    )
    activations.add_argument(
        "--initial-only",
        action="store_true",
        help="draw only the model at initialisation (any trial: no kept model needed)",
    )
    activations.add_argument(
        "--samples", type=_integer, default=1000, help="inputs fed through (default 1000)"
    )
    activations.add_argument("--results-dir", default="results")
    activations.set_defaults(parser=activations, handler=_activations)

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
    lr.add_argument("--start-lr", type=_number, default=1e-7)
    lr.add_argument("--end-lr", type=_number, default=10.0)
    lr.add_argument("--num-iter", type=_integer, default=100, help="batches to run at most")
    lr.add_argument("--results-dir")
    lr.set_defaults(parser=lr, handler=_lr_find)
    return parser


def _repairs_as_lines(show: Callable[..., None]) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints each repair of a results folder as one line and
    hands every other warning to `show`."""

    def show_warning(message: Warning | str, category: type[Warning], *args: Any) -> None:
        # Not imported here: a warning raised while Keras itself imports (PyTorch's about CUDA)
        # would import the store, and Keras through it, half-initialised. No store, no repair.
        repair = sys.modules.get("tuner.store.repair")
        if repair is not None and issubclass(category, repair.Repaired):
            print(f"tuner: repaired: {message}", file=sys.stderr)
        else:
            show(message, category, *args)

    return show_warning


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said by the command's own parser, which names its --help
        args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
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
    except Interrupted as stop:  # during training: what was lost, what is kept
        print(f"tuner: interrupted: {stop}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # no trial was training
        print(
            "tuner: interrupted; finished trials are kept, run the same command to resume",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
