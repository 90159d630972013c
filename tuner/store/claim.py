"""Claiming a results folder for a campaign: start over, resume (the same campaign, on the same
data), or reconfigure (a campaign with no finished trial). Every check runs before anything is
deleted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuner.campaign import Campaign, changed_fields, from_saved
from tuner.errors import ConfigError
from tuner.fingerprint import Fingerprint, data_changes, data_fingerprint
from tuner.store.folder import ResultsFolder
from tuner.store.records import DamagedFile

if TYPE_CHECKING:
    from tuner.datasets import Dataset


def claim(
    folder: ResultsFolder,
    campaign: Campaign,
    *,
    overwrite: bool = False,
    overwrite_hint: str = "overwrite=True",
    dataset: Dataset | None = None,
) -> None:
    """Make `folder` `campaign`'s: start over (`overwrite`), resume (the same campaign, on the
    same data), or reconfigure (a campaign with no finished trial). Called after `make_plan`,
    so bad input never deletes anything. `overwrite_hint` is how the caller spells the way out
    (``--overwrite`` on the command line). `dataset`, the data the trials will train on, is
    compared with the fingerprint the folder keeps of its trials' data (a folder from before
    fingerprints were resumes and keeps this one's)."""
    path = folder.path
    fingerprint = data_fingerprint(dataset) if dataset is not None else None
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"results folder {str(path)!r} is a file; choose another name or results_dir."
        )
    if not folder.is_campaign_folder():
        raise ConfigError(
            f"{path} already holds files and no {folder.campaign.name}; refusing to "
            "write into it. Choose another name or results_dir."
        )
    if overwrite:
        folder.reset()
    elif path.is_dir():
        folder.clean_leftovers()
    text = folder.campaign_text()
    if text is not None and not overwrite:
        previous = _saved_campaign(folder, text, overwrite_hint)
        changed = changed_fields(campaign, previous)
        data_changed = _data_changes(folder, fingerprint, overwrite_hint)
        way_out = (
            f"to start over run again with {overwrite_hint}, or give the campaign a new name "
            "to keep both."
        )
        if changed and folder.read_records():
            raise ConfigError(
                f"campaign {campaign.name!r} in {path} was started with different "
                f"{', '.join(changed)}; {way_out}"
            )
        if data_changed and folder.read_records():
            raise ConfigError(
                f"campaign {campaign.name!r} in {path} was started on different data "
                f"({'; '.join(data_changed)}); {way_out}"
            )
        if changed or data_changed:  # nothing finished yet: the campaign may change freely
            folder.reset_engine()
    try:
        folder.write_campaign(campaign.to_toml())
        if fingerprint is not None:
            folder.write_data_fingerprint(fingerprint)
    except OSError as error:
        raise ConfigError(
            f"cannot write to results folder {str(path)!r}: {error.strerror}."
        ) from None


def _data_changes(
    folder: ResultsFolder, fingerprint: Fingerprint | None, overwrite_hint: str
) -> list[str]:
    """How the data given now differs from the data the folder's trials trained on (nothing
    when either is unknown)."""
    try:
        before = folder.read_data_fingerprint()
    except DamagedFile as error:
        raise ConfigError(
            f"{error}; delete it to resume on the data given now, or start over with "
            f"{overwrite_hint}."
        ) from None
    if fingerprint is None or before is None:
        return []
    return data_changes(fingerprint, before)


def _saved_campaign(folder: ResultsFolder, text: str, overwrite_hint: str) -> Campaign:
    way_out = f"; restore it, or start over with {overwrite_hint}"
    return from_saved(text, str(folder.campaign), way_out)
