"""A results folder -> ``report.html``: one self-contained page with the plots, the ranked
table, hyperparameter importance and the campaign settings."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import pandas as pd

from tuner.campaign import infer_direction
from tuner.direction import check_direction
from tuner.errors import ConfigError
from tuner.files import atomic_write_text
from tuner.importance import hyperparameter_importance
from tuner.plots.campaign import completed, save_all, varying_hyperparameters
from tuner.plots.train_val import save_train_val
from tuner.plots.view import CampaignView
from tuner.results import (
    INTERNAL_PREFIX,
    PARETO,
    format_cell,
    pareto_front,
    settings_table,
    split_columns,
)
from tuner.results.render import pruned_epochs_saved
from tuner.store.folder import (
    ACTIVATIONS_PLOT,
    BUDGET_PLOT,
    CAMPAIGN_FILE,
    HISTORY_FILE,
    HYPERPARAMETERS_PLOT,
    LEARNING_CURVES_PLOT,
    LR_FIND_PNG,
    OPTIMIZATION_HISTORY_PLOT,
    PARALLEL_COORDINATES_PLOT,
    REPORT_FILE,
    TRAIN_VAL_PLOT,
    TRIALS_FILE,
    ResultsFolder,
)
from tuner.trial import COMPLETED, PRUNED, SCORED

PLOT_CAPTIONS = {
    OPTIMIZATION_HISTORY_PLOT: (
        "Score of every trial by trial id, and the best so far; crosses along the bottom "
        "are failed or diverged trials."
    ),
    HYPERPARAMETERS_PLOT: (
        "Score against each hyperparameter that varied, over the range searched; the red star is "
        "the best trial, crosses along the bottom are failed or diverged trials at the value tried."
    ),
    PARALLEL_COORDINATES_PLOT: "The top trials across every hyperparameter; colour is the score.",
    LEARNING_CURVES_PLOT: "Training (solid) and validation (dashed) curves of the top trials; dots mark the best epoch.",
    BUDGET_PLOT: "Epochs each trial was given (Hyperband brackets and rounds when present).",
    LR_FIND_PNG: "Learning-rate range test: loss against learning rate, suggestions marked.",
    TRAIN_VAL_PLOT: (
        "Training (solid) and validation (dashed) curves per trial, the gap between them "
        "shaded: a growing gap is overfitting."
    ),
    ACTIVATIONS_PLOT: (
        "Histogram of each hidden layer's activations for the best trial's model "
        "(`tuner activations`)."
    ),
}

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       margin: 0; background: #f6f7f9; }
main { max-width: 1240px; margin: 0 auto; padding: 18px 28px 40px; background: #fff; }
h1 { font-size: 1.6em; margin: 0.3em 0 0.2em; }
h2 { font-size: 1.2em; margin: 1.6em 0 0.5em; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.facts { color: #444; margin: 0 0 0.8em; }
.facts b { color: #111; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 7px; border-bottom: 1px solid #e6e6e6; text-align: left; white-space: nowrap; }
td.num, th.num { text-align: right; }
thead th { background: #f0f2f5; position: sticky; top: 0; }
tr.failed td { color: #a33; }
tr.pruned td { color: #777; font-style: italic; }
tr.best td { background: #eef7ee; font-weight: 600; }
td.error { white-space: normal; min-width: 240px; max-width: 420px; }
figure { margin: 1em 0 1.6em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 13px; margin-top: 4px; }
.note { color: #666; font-size: 13px; }
.bar { display: inline-block; height: 10px; background: #4c78a8; vertical-align: middle; }
"""


def _html_table(
    df: pd.DataFrame, *, row_classes: list[str] | None = None, max_width: int | None = 80
) -> str:
    numeric = {
        c
        for c in df.columns
        if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
    }
    head = "".join(
        f'<th class="num">{html.escape(str(c))}</th>'
        if c in numeric
        else f"<th>{html.escape(str(c))}</th>"
        for c in df.columns
    )
    body = []
    for i, row in enumerate(df.itertuples(index=False, name=None)):
        cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        cells = []
        for column, value in zip(df.columns, row):
            kind = "num" if column in numeric else ("error" if column == "error" else "")
            attr = f' class="{kind}"' if kind else ""
            text = format_cell(value, max_width=300 if column == "error" else max_width)
            cells.append(f"<td{attr}>{html.escape(text)}</td>")
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _settings_html(settings: dict[str, Any]) -> str:
    if not settings:
        return (
            f'<p class="note">No {CAMPAIGN_FILE} in this folder, so the settings are not '
            "recorded here.</p>"
        )
    return _html_table(settings_table(settings), max_width=None)


def _importance_html(importance: pd.DataFrame) -> str:
    n = importance.attrs.get("n_trials", 0)
    if importance.empty:
        reason = importance.attrs.get("reason") or "nothing to report."
        return f'<p class="note">Not computed: {html.escape(reason)}</p>'
    rows = []
    for name, value, std in importance[["name", "importance", "std"]].itertuples(index=False):
        width = max(1, round(240 * value))
        rows.append(
            f'<tr><td>{html.escape(str(name))}</td><td class="num">{value:.1%}</td>'
            f'<td class="num">± {std:.1%}</td><td><span class="bar" style="width:{width}px"></span></td></tr>'
        )
    return (
        f'<p class="note">Based on {n} completed trials, by {html.escape(str(importance.attrs.get("method", "")))}. '
        "With few or unevenly spread trials these numbers are rough: a hint, not a measurement.</p>"
        '<div class="scroll"><table><thead><tr><th>hyperparameter</th><th class="num">importance</th>'
        f'<th class="num">± std</th><th></th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )


def _image_html(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = PLOT_CAPTIONS.get(path.name, "")
    return (
        f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


_LEADING = ["rank", "trial_id", "score", "pareto"]


def _report_columns(
    shown: pd.DataFrame, table: pd.DataFrame, history: pd.DataFrame | None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The top rows' table, what matters first: rank, score and metrics, then the tuned
    hyperparameters, then the trials' bookkeeping; and the hyperparameters that are the same
    in every trial of `table` (shown as a list of fixed settings instead of columns).
    What says nothing in these rows is left out, so the table fits a laptop screen."""
    hps, metrics = split_columns(table, history)
    fixed = {}
    if len(table) > 1:
        fixed = {h: table[h].iloc[0] for h in hps if table[h].nunique(dropna=False) <= 1}
    drop = [c for c in shown.columns if c.startswith(INTERNAL_PREFIX)] + list(fixed)
    if (shown["status"] == COMPLETED).all():
        drop.append("status")
    if shown["epochs_run"].nunique() <= 1:
        drop.append("epochs_run")
    if not shown["error"].notna().any():
        drop.append("error")
    kept = [c for c in shown.columns if c not in drop]
    first = [c for c in _LEADING if c in kept] + [c for c in metrics if c in kept]
    tuned = [c for c in hps if c in kept]
    rest = [c for c in kept if c not in first and c not in tuned]
    return shown[first + tuned + rest], fixed


def _front_html(view: CampaignView) -> str:
    """The Pareto front's trials (a campaign of several objectives; nothing otherwise)."""
    if len(view.objectives) < 2 or PARETO not in view.table.columns:
        return ""
    front = pareto_front(view.table)
    shown, _ = _report_columns(front, view.table, view.history) if len(front) else (front, {})
    body = _html_table(shown) if len(front) else '<p class="note">No trial completed.</p>'
    return (
        f"<h2>Pareto front ({len(front)} trials)</h2>\n{body}\n"
        '<p class="note">No other trial is at least as good in every objective and better '
        "in one (the plot <code>pareto_front.png</code> draws the first two).</p>"
    )


def _fixed_html(fixed: dict[str, Any]) -> str:
    if not fixed:
        return ""
    items = ", ".join(
        f"<code>{html.escape(str(k))} = {html.escape(format_cell(v))}</code>"
        for k, v in fixed.items()
    )
    return f'<p class="note">Fixed settings (the same in every trial): {items}.</p>'


def render_report(view: CampaignView, plot_paths: list[Path], *, top: int = 20) -> str:
    """The HTML text of a campaign's report (plots already drawn to `plot_paths`)."""
    table, history, settings = view.table, view.history, view.settings
    objective, direction = view.objective, view.direction
    done = completed(table)
    hps, _ = split_columns(table, history)
    importance = hyperparameter_importance(
        table, hyperparameter_names=varying_hyperparameters(table, history)
    )

    facts = [
        f"objective <b>{html.escape(str(objective))}</b> ({html.escape(str(direction))})",
        f"<b>{len(table)}</b> trials: {len(done)} completed, {len(table) - len(done)} failed",
    ]
    saved = pruned_epochs_saved(table)
    if saved is not None:
        pruned = int((table["status"] == PRUNED).sum())
        facts[-1] += f" ({pruned} of them pruned, <b>{saved}</b> epochs saved)"
    if len(done):
        best = done.iloc[0]
        facts.append(
            f"best score <b>{format_cell(best['score'])}</b> (trial {html.escape(str(best['trial_id']))}, "
            f"epoch {format_cell(best['best_epoch'])})"
        )
    if len(view.objectives) > 1:
        spelled = ", ".join(
            f"<b>{html.escape(n)}</b> ({html.escape(d)})" for n, d in view.objectives
        )
        facts[0] = f"objectives {spelled}"
    statuses = list(table.head(top)["status"])
    shown, fixed = _report_columns(table.head(top), table, history)
    classes = [
        "best"
        if i == 0 and status in SCORED
        else ("failed" if status not in SCORED else ("pruned" if status == PRUNED else ""))
        for i, status in enumerate(statuses)
    ]
    plots = (
        "".join(_image_html(p) for p in plot_paths)
        or '<p class="note">No plots: no trial completed.</p>'
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tuning report: {html.escape(view.name)}</title><style>{STYLE}</style></head>
<body><main>
<h1>Tuning report: {html.escape(view.name)}</h1>
<p class="facts">{" &middot; ".join(facts)}</p>
<h2>Top {len(shown)} trials</h2>
{_html_table(shown, row_classes=classes)}
{_fixed_html(fixed)}
{_front_html(view)}
<p class="note">The full table is <code>{TRIALS_FILE}</code> in this folder; per-epoch values are in <code>{HISTORY_FILE}</code>.</p>
<h2>Hyperparameter importance</h2>
{_importance_html(importance)}
<h2>Plots</h2>
{plots}
<h2>Campaign settings</h2>
{_settings_html(settings)}
<p class="note">Hyperparameters in the table: {html.escape(", ".join(hps) or "none")}.</p>
</main></body></html>
"""


def load_view(folder: Path) -> CampaignView:
    """A results folder's table, history and campaign settings: the one place the report reads files."""
    files = ResultsFolder.find(folder)
    table, history = files.tables()
    settings = files.campaign_settings()
    several: tuple[tuple[str, str], ...] = ()
    if isinstance(settings.get("objective"), list):  # several objectives, directions resolved
        several = tuple(zip(settings["objective"], settings.get("direction") or []))
        objective, direction = several[0]
    else:
        objective = str(settings.get("objective", "score"))
        direction = campaign_direction(settings, objective, folder)
    return CampaignView(
        name=str(settings.get("name", folder.name)),
        table=table,
        history=history,
        objective=objective,
        direction=direction,
        space=dict(settings.get("space", {})),
        settings=settings,
        objectives=several,
    )


def campaign_direction(settings: dict[str, Any], objective: str, folder: Path) -> str:
    """The direction the campaign was run with: its ``campaign.toml``'s, else the one its
    objective's name implies (as the campaign inferred it), never one guessed from the scores."""
    direction = settings.get("direction") or infer_direction(objective)
    if direction is None:
        raise ConfigError(
            f"cannot tell whether objective {objective!r} of {folder} was maximised or "
            f'minimised; add direction = "max" or "min" to {folder / CAMPAIGN_FILE}.'
        )
    return check_direction(direction)


def write_report(
    results_folder: str | Path, results_dir: str | Path = "results", *, top: int = 20
) -> Path:
    """Draw every plot into the results folder and write ``report.html`` there; return its path.

    `results_folder` is a folder path or a campaign name under `results_dir`. The page embeds
    the plots, so it can be copied or mailed on its own.
    """
    files = ResultsFolder.find(results_folder, results_dir)
    view = load_view(files.path)
    plot_paths = save_all(view, files.path)
    plot_paths += save_train_val(view, files.path)
    if files.lr_find_png.is_file():  # written by `tuner lr-find` or learning_rate="auto"
        plot_paths.append(files.lr_find_png)
    if files.activations_plot().is_file():  # written by `tuner activations`
        plot_paths.append(files.activations_plot())
    path = files.report
    atomic_write_text(path, render_report(view, plot_paths, top=top))
    return path


__all__ = ["write_report", "render_report", "load_view", "campaign_direction", "REPORT_FILE"]
