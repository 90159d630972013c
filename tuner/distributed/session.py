"""What a chief leaves in the results folder for its workers: the fingerprint of its campaign,
so that a worker started with another campaign file is refused before it trains anything (and
the claimed folder's data fingerprint, so that one that loaded other data is too)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from tuner.campaign import Campaign, from_saved
from tuner.errors import ConfigError
from tuner.files import atomic_write_text
from tuner.store.folder import ResultsFolder
from tuner.store.records import DamagedFile

if TYPE_CHECKING:
    from tuner.datasets import Dataset

# Settings each machine may choose for itself: where it sees the shared folder, its threads,
# how many trials it trains as one model, whether its steps compile with XLA (a GPU machine's
# choice need not be a CPU's). Anything else must be the chief's: mixed precision too, whose
# `true` each machine resolves for its own device (`backends.precision_policy`).
PER_MACHINE = frozenset({"results_dir", "threads", "pack", "jit_compile"})


def _shared(campaign: Campaign) -> dict[str, Any]:
    return {k: v for k, v in campaign.to_dict().items() if k not in PER_MACHINE}


def fingerprint(campaign: Campaign) -> str:
    """A hash of the campaign's settings, per-machine ones left out (TOML, keys sorted)."""
    text = tomli_w.dumps(_shared(campaign))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def session_path(folder: Path) -> Path:
    return ResultsFolder(folder).session


def write_session(campaign: Campaign, address: str) -> None:
    """Called by the chief once it claimed the folder and before it serves: the campaign's
    fingerprint and where the chief listens."""
    atomic_write_text(
        session_path(campaign.folder),
        json.dumps({"fingerprint": fingerprint(campaign), "address": address}) + "\n",
    )


def check_worker_campaign(campaign: Campaign, campaign_file: str) -> None:
    """Refuse (`ConfigError`) a worker whose campaign is not the chief's: no chief started
    this campaign's folder, or its fingerprint differs (the message names the fields)."""
    folder = campaign.folder
    path = session_path(folder)
    try:
        session = json.loads(path.read_text(encoding="utf-8"))
        theirs = str(session["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(
            f"no chief has started campaign {campaign.name!r} in {folder} ({path} is missing "
            "or unreadable); start `tuner chief` first, and give workers the chief's campaign "
            "file and a --results-dir that reaches the same shared folder."
        ) from None
    if fingerprint(campaign) == theirs:
        return
    fields = "its settings"
    saved = ResultsFolder(folder).campaign
    try:
        chief = from_saved(saved.read_text(encoding="utf-8"), str(saved))
        mine, other = _shared(campaign), _shared(chief)
        names = sorted(k for k in set(mine) | set(other) if mine.get(k) != other.get(k))
        fields = ", ".join(names) or fields
    except (OSError, ValueError, ConfigError):  # ValueError: bad TOML or not UTF-8
        pass
    raise ConfigError(
        f"campaign file {campaign_file} differs from the chief's campaign ({saved}) in "
        f"{fields}; a worker must run the chief's campaign file (only results_dir, threads, "
        "pack and jit_compile may differ)."
    )


def check_worker_data(campaign: Campaign, dataset: Dataset, campaign_file: str) -> None:
    """Refuse (`ConfigError`) a worker whose data is not the chief's: the fingerprint the chief
    kept when it claimed the folder differs from that of the data this worker loaded (a
    ``csv:`` or ``npz:`` file that is another on this machine). Called once its data is
    loaded, before Keras starts."""
    from tuner.fingerprint import data_changes, data_fingerprint

    try:
        theirs = ResultsFolder(campaign.folder).read_data_fingerprint()
    except DamagedFile as error:
        raise ConfigError(f"{error}; restart the chief to write it again.") from None
    changes = [] if theirs is None else data_changes(data_fingerprint(dataset), theirs)
    if changes:
        raise ConfigError(
            f"the data of campaign file {campaign_file} ({campaign.dataset}) differs from the "
            f"chief's ({'; '.join(changes)}); give every worker the chief's data."
        )
