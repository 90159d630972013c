"""What the terminal shows of a campaign: the header, one line a trial, the final table.

Pure rendering: strings from records and tables, fitted to a width; nothing here imports Keras
or prints.
"""

from __future__ import annotations

import math
import shutil
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

import pandas as pd

from tuner.results.render import aligned_lines, is_numeric, number_format
from tuner.results.tables import INTERNAL_PREFIX
from tuner.trial import COMPLETED, PRUNED, SCORED, STOPPED, TrialRecord

if TYPE_CHECKING:
    from tuner.execution.base import PackEpoch

ELLIPSIS = "..."
# Short names for the bundled builders' hyperparameters in progress lines; others keep theirs.
SHORT_NAMES = {
    "learning_rate": "lr",
    "optimizer": "opt",
    "n_layers": "layers",
    "dropout": "drop",
    "batch_size": "batch",
    "activation": "act",
    "kernel_initializer": "init",
    "batch_norm": "bn",
    "per_layer_units": "per_layer",
}
# The table's own columns, in the order the final table shows them around the
# hyperparameters and metrics (which keep their order, in the middle).
# A trial's status (pruned, stopped, failed) stands by its score, which it qualifies.
_LEADING = ["rank", "trial_id", "score", "cv_std", "pareto", "status"]
_TRAILING = [
    "best_epoch",
    "epochs_run",
    "duration_s",
    "n_params",
    "latency_ms",
    "device",
    "error",
]
_ALWAYS_SHOWN = {"rank", "trial_id", "score"}
_SEP = "  "


@dataclass
class ProgressEvent:
    """One trial has ended: what its progress line reports."""

    record: TrialRecord
    done: int
    total: int | None
    best: TrialRecord | None
    objective: str
    elapsed_s: float
    eta_s: float | None
    tuned: list[str] = field(default_factory=list)
    pack_size: int = 1
    # One format per tuned hyperparameter whose values need scientific notation
    # (`value_formats`), so that every line writes it alike.
    formats: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- small formats


def clip(text: str, width: int) -> str:
    """`text` cut to `width` characters, ending in "..." when cut."""
    if len(text) <= width:
        return text
    if width <= len(ELLIPSIS):
        return text[: max(width, 0)]
    return text[: width - len(ELLIPSIS)] + ELLIPSIS


def clock(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour on."""
    minutes, secs = divmod(round(max(seconds, 0.0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 60 else clock(seconds)


def _score(value: Any) -> str:
    if not isinstance(value, Real) or isinstance(value, bool):
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        return str(number)
    if number != 0 and not 1e-3 <= abs(number) < 1e4:
        return f"{number:.3e}"
    return f"{number:.4f}"


def compact_value(value: Any, width: int = 16) -> str:
    """A hyperparameter value in few characters: ``8.3e-03``, ``0.25``, ``96``, ``adam``."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        number = float(value)
        if number == 0 or not math.isfinite(number):
            return "0" if number == 0 else str(number)
        return f"{number:.3g}" if 1e-2 <= abs(number) < 1e4 else f"{number:.1e}"
    return clip(str(value), width)


def _reason(error: str | None, objective: str) -> str:
    lines = [" ".join(line.split()) for line in (error or "").splitlines()]
    return next((line for line in lines if line), f"no score for {objective}")


# --------------------------------------------------------------------------- progress


def _counter(done: int, total: int | None) -> str:
    if total is None:
        return f"[{done}]"
    return f"[{done:>{len(str(total))}}/{total}]"


def value_formats(spans: Mapping[str, Sequence[Any]]) -> dict[str, str]:
    """Progress lines' format of each hyperparameter whose possible values (`spans`: a
    range's ends, or a choice's values) need scientific notation: ``lr=1.0e-03`` and
    ``lr=1.0e+00``, never ``lr=1`` beside ``lr=1.0e-03``."""
    formats = {}
    for name, values in spans.items():
        spec = number_format(values, digits=2)
        if spec is not None:
            formats[name] = spec
    return formats


def _value_text(value: Any, spec: str | None) -> str:
    if spec is not None and isinstance(value, Real) and not isinstance(value, bool):
        return format(float(value), spec)
    return compact_value(value)


def _tuned_text(
    hyperparameters: dict[str, Any],
    tuned: Sequence[str],
    room: int,
    formats: dict[str, str] | None = None,
) -> str:
    """As many ``name=value`` items as fit in `room` characters, "..." when some do not."""
    formats = formats or {}
    items = [
        f"{SHORT_NAMES.get(name, name)}={_value_text(hyperparameters[name], formats.get(name))}"
        for name in tuned
        if hyperparameters.get(name) is not None
    ]
    text = ""
    for index, item in enumerate(items):
        candidate = f"{text} {item}".lstrip()
        more = index < len(items) - 1
        if len(candidate) + (len(" " + ELLIPSIS) if more else 0) <= room:
            text = candidate
            continue
        elided = f"{text} {ELLIPSIS}".lstrip()
        return elided if len(elided) <= room else text
    return text


def progress_line(event: ProgressEvent, width: int = 80) -> str:
    """One line for a trial that just ended, at most `width` characters.

    ``[ 3/20] trial 2  val_accuracy=0.9611  best 0.9722 (#1)  0.9s  eta 0:14`` then the trial's
    tuned values (``lr=8.3e-03 units=96 opt=adam``). A trial trained in a pack of N says so
    after its duration (``0.2s x8``; the header's `packing_note` says what that means). When
    the width is short the duration (then the pack size), then the best so far, then the eta
    give way to the tuned values, and the values that still do not fit end in "...". A failed
    trial says ``FAILED: <first line of its error>`` instead of its score, clipped to the room
    left. A hyperparameter with a format in `event.formats` is written in it.
    """
    record = event.record
    id_width = len(str(event.total)) if event.total is not None else 0
    head = f"{_counter(event.done, event.total)} trial {record.trial_id:<{id_width}}"
    best = event.best
    if best is None or best.score is None:
        best_text = "best -"
    elif best.trial_id == record.trial_id:
        best_text = "new best"
    else:
        best_text = f"best {_score(best.score)} (#{best.trial_id})"
    extras = {
        "best": best_text,
        "timing": _seconds(record.duration_s)
        + (f" x{event.pack_size}" if event.pack_size > 1 else ""),
        "eta": (
            f"eta {clock(event.eta_s)}"
            if event.eta_s is not None
            else f"elapsed {clock(event.elapsed_s)}"
        ),
    }
    failed = record.status not in SCORED or record.score is None
    result = (
        "FAILED: " + _reason(record.error, event.objective)
        if failed
        else f"{clip(event.objective, 24)}={_score(record.score)}"
    )
    if record.cv_std is not None and not failed:  # cross-validated: the mean, then its spread
        result += f"±{_score(record.cv_std)}"
    if record.status == STOPPED and not failed:
        epochs = f"{record.epochs_run} epoch{'s' * (record.epochs_run != 1)}"
        result += f" (stopped by the budget after {epochs})"
    if record.status == PRUNED and not failed:
        result += f" (pruned {_where_pruned(record)})"
    tuned_all = _tuned_text(record.hyperparameters, event.tuned, 10**6, event.formats)
    # What the result and the tuned values ask for before the extras give way; a failure's
    # reason and the tuned values are cut to fit past that.
    need = min(len(result), 44) if failed else len(result)
    if tuned_all and not failed:
        need += len(_SEP) + min(len(tuned_all), 30)
    # A packed trial's duration gives way before its pack size ("x8") does.
    packed = f"x{event.pack_size}" if event.pack_size > 1 else None
    for drop in ("timing", "pack", "best", "eta", ""):
        if drop == "pack" and packed is None:
            continue
        rest = [extras[k] for k in ("best", "timing", "eta") if k in extras]
        room = width - len(head) - len(_SEP) - sum(len(_SEP) + len(t) for t in rest)
        if room >= need or not drop:
            break
        if drop == "timing" and packed is not None:
            extras["timing"] = packed
        else:
            extras.pop("timing" if drop == "pack" else drop, None)
    shown_result = clip(result, max(room, 0)) if failed else result
    core = clip(_SEP.join([head, shown_result, *rest]), width)
    room_left = width - len(core) - len(_SEP)
    tuned = _tuned_text(record.hyperparameters, event.tuned, room_left, event.formats)
    return f"{core}{_SEP}{tuned}" if tuned else core


def live_line(
    report: PackEpoch,
    *,
    done: int,
    total: int | None,
    elapsed_s: float,
    eta_s: float | None,
    width: int = 80,
) -> str:
    """The line redrawn while trials train together, at most `width` characters.

    ``[ 3/40] pack of 8, epoch 5/15  pack best 0.9611  elapsed 0:05  eta 0:32``: the trials
    finished, the pack's size and epochs done, the best objective value any of its trials has
    reached, the time since the campaign started and the time left for every planned trial.
    A pack whose trials stopped early says ``(6 still training)``. When the width is short the
    elapsed time, then the best, give way.
    """
    training = report.training
    size = len(report.trial_ids)
    still = f" ({training} still training)" if 0 < training < size else ""
    head = f"{_counter(done, total)} pack of {size}, epoch {report.epoch}/{report.epochs}{still}"
    extras = {
        "best": f"pack best {_score(report.best)}" if report.best is not None else "pack best -",
        "elapsed": f"elapsed {clock(elapsed_s)}",
    }
    if eta_s is not None:
        extras["eta"] = f"eta {clock(eta_s)}"
    for drop in ("elapsed", "best", ""):
        line = _SEP.join([head, *extras.values()])
        if len(line) <= width or not drop:
            break
        extras.pop(drop)
    return clip(line, width)


# --------------------------------------------------------------------------- header


def packing_note(pack: int, how: str) -> str:
    """The header's line on packed trials, which also says (once) what the ``x8`` after a
    progress line's time means. `how`: ``auto`` or ``pack`` (the setting that chose `pack`)."""
    return (
        f"packing: up to {pack} trials of one architecture train at once, as one model "
        f'({how}); "x{pack}" after a trial\'s time: it trained in a pack of {pack} trials'
    )


def _rate(value: Any) -> str:
    return f"{float(value):.1e}" if _is_float(value) or isinstance(value, Integral) else str(value)


def _lr_text(entry: Any, valley: Any) -> str:
    if not isinstance(entry, dict):
        return f"{_rate(entry)} (the range finder's valley)"
    low, high = entry.get("min"), entry.get("max")
    sampling = entry.get("sampling", "linear")
    details = [sampling]
    step = entry.get("step")
    if (
        isinstance(step, Real)
        and isinstance(low, Real)
        and isinstance(high, Real)
        and float(step) > 0
    ):
        lo, hi, by = float(low), float(high), float(step)
        if sampling == "log" and by > 1 and lo > 0:
            count = math.floor(math.log(hi / lo) / math.log(by) + 1e-6) + 1
        else:
            count = math.floor((hi - lo) / by + 1e-6) + 1
        details.append(f"{count} values")
    found = f"; valley {_rate(valley)}" if isinstance(valley, Real) else ""
    return f"{_rate(low)} to {_rate(high)} ({', '.join(details)}{found})"


def campaign_header(
    *,
    name: str,
    strategy: str,
    trials: int,
    configurations: int | None,
    max_trials: int,
    dataset: str,
    objective: str,
    direction: str,
    folder: str,
    auto_lr: dict[str, Any] | None,
    notes: Sequence[str] = (),
) -> list[str]:
    """The lines printed before the search starts.

    `trials` is how many will run: ``max_trials``, or fewer when the space holds only
    `configurations` distinct ones (None: unbounded). `auto_lr` is
    what ``learning_rate = "auto"`` resolved to: ``{"learning_rate": {"min": ..., "max": ...,
    "sampling": "log"}}``, or a fixed rate for ``"auto-fixed"``, with the range finder's
    ``lr_find_valley`` when known. `notes` are one line each (how trials are packed).
    """
    more = f"; max_trials = {max_trials} asks for more" if trials < max_trials else ""
    plural = "s" * (configurations != 1)
    if configurations is not None and strategy == "grid" and configurations > trials:
        plan = f"{trials} of a grid of {configurations} combinations (max_trials = {trials})"
    elif configurations is not None and strategy == "grid":
        plan = f"{trials} (a grid of {configurations} combination{plural}{more})"
    elif configurations is not None and more:
        plan = f"{trials} (the space holds {configurations} distinct configuration{plural}{more})"
    else:
        plan = str(trials)
    lines = [
        f"campaign {name!r}: {strategy} search on {dataset!r}",
        f"trials: {plan}",
        f"objective: {objective} ({direction})",
    ]
    for key, entry in (auto_lr or {}).items():
        if key.startswith("lr_find_"):
            continue
        mode = "auto" if isinstance(entry, dict) else "auto-fixed"
        line = f'{key} = "{mode}": {_lr_text(entry, (auto_lr or {}).get("lr_find_valley"))}'
        lines.append(line)
    lines.extend(notes)
    lines.append(f"results: {folder}")
    return lines


# --------------------------------------------------------------------------- final table


def _is_empty(value: Any) -> bool:
    return (
        value is None
        or value is pd.NA
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and not value.strip())
    )


def _cell(column: str, value: Any) -> str:
    if _is_empty(value):
        return ""
    if column == "score":
        return _score(value)
    if column == "duration_s":
        return f"{float(value):.1f}"
    if column == "error":
        return _reason(str(value), "")
    return compact_value(value, width=20)


def _is_float(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, (bool, Integral))


def _column_cells(column: str, values: pd.Series) -> list[str]:
    """The cells of one column; a column of floats shares one format so its points line up."""
    present = [v for v in values if not _is_empty(v)]
    numbers = [v for v in present if isinstance(v, Real) and not isinstance(v, bool)]
    floats = [float(v) for v in numbers if _is_float(v)]
    # Whole numbers among floats (a choice of [0.001, 0.01, 1]) are written as the floats are.
    if column in ("score", "duration_s") or not floats or len(numbers) < len(present):
        return [_cell(column, v) for v in values]
    spec = number_format(numbers, digits=3)
    if spec is None:
        decimals = [len(f"{float(v):.3g}".partition(".")[2]) for v in numbers]
        spec = f".{min(max(decimals, default=0), 4)}f"
    return ["" if _is_empty(v) else format(float(v), spec) for v in values]


def _where_pruned(record: TrialRecord) -> str:
    """The epoch a pruned trial stopped at; a cross-validated one's `epochs_run` adds up its
    folds, so it is told by the fold it stopped in and that fold's epoch."""
    folds = record.fold_histories
    if folds and len(folds) > 1:
        epochs = max((len(values) for values in folds[-1].values()), default=0)
        return f"in fold {len(folds)} at epoch {epochs + record.initial_epoch}"
    return f"at epoch {record.epochs_run + record.initial_epoch}"


def final_table(
    table: pd.DataFrame,
    *,
    objective: str,
    width: int | None = None,
    top: int = 10,
    also: Sequence[str] = (),
) -> str:
    """The top rows of a ranked table as text whose every line fits `width` (the terminal's).

    Shows only informative columns: not the internal ``tuner/...`` ones, not the metric that
    repeats the score, not an empty error or device column, and (over two rows or more) none
    whose values are all equal, which a line below the table lists instead. The score column
    is headed by the objective's name; `also` (a campaign's other objectives) stand beside
    it, after the ``pareto`` mark, whatever their width. Columns that do not fit are left out
    from the right, and named.
    """
    if width is None:
        width = shutil.get_terminal_size((80, 24)).columns
    shown = table.head(top).reset_index(drop=True)
    if shown.empty:
        return "no trials"
    # Each fold's score stays in trials.csv: the line shows their spread (cv_std).
    columns = [c for c in shown.columns if not str(c).startswith((INTERNAL_PREFIX, "cv_fold_"))]
    if objective != "score" and objective in columns:
        columns.remove(objective)
    same: list[str] = []
    kept: list[str] = []
    for column in columns:
        values = shown[column]
        if column in ("error", "device", "latency_ms") and all(_is_empty(v) for v in values):
            continue
        if column not in _ALWAYS_SHOWN and len(shown) > 1 and values.nunique(dropna=False) <= 1:
            value = values.iloc[0]
            if not (column == "status" and value == COMPLETED) and not _is_empty(value):
                same.append(f"{column}={_cell(column, value)}")
            continue
        if column == "status" and all(v == COMPLETED for v in values):
            continue
        kept.append(column)
    middle = [c for c in kept if c not in _LEADING and c not in _TRAILING]
    after = _LEADING.index("pareto") + 1
    leading = [*_LEADING[:after], *also, *_LEADING[after:]]
    middle = [c for c in middle if c not in also]
    trailing = [c for c in _TRAILING if c in kept and c not in also]
    ordered = [c for c in leading if c in kept] + middle + trailing

    cells = {c: _column_cells(c, shown[c]) for c in ordered}
    headers = {c: objective if c == "score" else str(c) for c in ordered}
    widths = {c: max([len(headers[c])] + [len(s) for s in cells[c]]) for c in ordered}

    # A failed trial's error gets its room first (up to 30 characters), the rest fill in order.
    reserve = len(_SEP) + min(widths["error"], 30) if "error" in ordered else 0
    chosen: list[str] = []
    left_out: list[str] = []
    used = 0
    for column in ordered:
        if column == "error":
            room = width - used - len(_SEP)
            if room >= min(widths[column], 12):
                widths[column] = min(widths[column], room)
                cells[column] = [clip(text, widths[column]) for text in cells[column]]
                chosen.append(column)
            else:
                left_out.append(column)
            continue
        need = widths[column] + (len(_SEP) if chosen else 0)
        if column in _ALWAYS_SHOWN or column in also or used + need <= width - reserve:
            chosen.append(column)
            used += need
        else:
            left_out.append(column)

    right = [is_numeric(shown[c]) or all(s.isdigit() for s in cells[c] if s) for c in chosen]
    laid_out = aligned_lines([headers[c] for c in chosen], [cells[c] for c in chosen], right, _SEP)
    lines = [clip(line.rstrip(), width) for line in laid_out]
    notes = []
    if same:
        notes.append("same in every row shown: " + ", ".join(same))
    if left_out:
        notes.append(
            f"left out to fit {width} columns: {', '.join(headers[c] for c in left_out)} "
            "(`tuner results` shows every column)"
        )
    for note in notes:
        lines += textwrap.wrap(
            note, width=max(width, 4), subsequent_indent="  ", break_on_hyphens=False
        )
    return "\n".join(lines)
