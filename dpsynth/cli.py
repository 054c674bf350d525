"""The `dpsynth` command line: thin wrappers over `dpsynth.pipeline` and friends.

Every expected failure (bad schema, bad data, impossible budget, unreadable file) is a
`DpsynthError` and is printed as one clear line with exit code 2 — no traceback. Ctrl-C and
SIGTERM stop a command with one line and exit 130 / 143; outputs are written whole or not at
all (`dpsynth.bundle`), so an interrupted command leaves no partial output behind.
"""

from __future__ import annotations

import functools
import json
import signal
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dpsynth.errors import DpsynthError

app = typer.Typer(help="Differentially private synthetic medical data, with a per-subgroup audit.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
schema_app = typer.Typer(help="Write and check schema files.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
console = Console(stderr=True)
# exit code of `privacy-audit` when the lower bound exceeds the card's ε (docs/privacy.md, rule 10)
CONTRADICTS_CARD = 3
BAD_CONDITION = "--conditions expects name=value, e.g. sex=female (got {item!r})"
REPEATED_CONDITION = "--conditions gives '{key}' twice; a condition fixes one value"
BAD_CONFIDENCE = "--confidence must be strictly between 0 and 1, e.g. 0.95 (got {confidence!r})"
INTERRUPTED = ("interrupted ({signal}): stopped before finishing; nothing was written, and an output that "
               "existed before is unchanged")
MAX_FAILURES_SHOWN = 5  # failed sweep cells whose error the console shows (all are in DIR/failures/)
SWEEP_INTERRUPTED = ("interrupted ({signal}): the sweep stopped; its finished cells are kept and its running "
                     "cells left nothing; rerun the same command to resume")


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM: unwinds like Ctrl-C, so every staged output is deleted on the way."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _interrupt(signum: int, frame) -> None:
    raise Interrupted(signum)


def clear_errors(command=None, *, interrupted: str = INTERRUPTED):
    """Turn dpsynth's own errors into one red line and exit code 2, and an interrupt into one
    line (``interrupted``) and exit code 128 + the signal's number."""
    if command is None:
        return functools.partial(clear_errors, interrupted=interrupted)

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            return command(*args, **kwargs)
        except DpsynthError as exc:
            # escape: messages hold brackets rich would eat as markup, e.g. pip install 'dpsynth[parquet]'
            console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt as exc:
            signum = getattr(exc, "signum", signal.SIGINT)
            console.print(f"[bold red]{interrupted.format(signal=signal.Signals(signum).name)}[/]", highlight=False,
                          soft_wrap=True)
            raise typer.Exit(128 + signum) from None
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    return wrapper


def _print_version(value: bool) -> None:
    if value:
        from dpsynth import __version__

        typer.echo(f"dpsynth {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="print dpsynth's version and exit")] = False,
):
    """Differentially private synthetic medical data, with a per-subgroup audit."""


def _parse_params(items: list[str] | None) -> dict:
    """``--param name=value`` items as keywords: each value read as JSON (2, 1e-3, [64, 64], null,
    true), else kept as text (rdp). The generator checks names and values (`dpsynth.params`)."""
    params = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise DpsynthError(f"--param expects name=value, e.g. --param epochs=10 (got {item!r})")
        if key in params:
            raise DpsynthError(f"--param {key} is given twice")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


@app.command()
@clear_errors
def generate(
    data: Annotated[Path, typer.Option(
        help="private training data: a table (.csv/.parquet); series: .npz, a WFDB or DICOM-waveform folder, "
             "or a long signal table with --static; images: .npz (dpsynth or MedMNIST) or a folder of PNG/DICOM "
             "files with manifest.csv")],
    schema: Annotated[Path, typer.Option(help="public schema (.yaml or .json); its modality picks the data kind")],
    out: Annotated[Path, typer.Option(help="release bundle folder")],
    epsilon: Annotated[Optional[float], typer.Option(
        help="total privacy budget ε (required, except for the NOT PRIVATE sdv-* references: ε = ∞)")] = None,
    generator: Annotated[str, typer.Option(help="registered generator name (`dpsynth generators`)")] = "dp-vae",
    delta: Annotated[Optional[float], typer.Option(help="δ; default 1e-5, or the power of ten at or below 1/n^1.1 for larger n")] = None,
    rows: Annotated[Optional[int], typer.Option(
        help="synthetic rows; default: the DP row count (references: the number of training rows)")] = None,
    seed: Annotated[int, typer.Option(help="public seed: initial weights and sampling (the private noise comes from OS entropy)")] = 0,
    fmt: Annotated[Optional[str], typer.Option(
        "--format", help="csv or parquet (tabular, default csv); npz, csv or parquet (series, default npz); "
                         "npz or png (images, default npz; png: a folder of PNG files + manifest.csv)")] = None,
    static: Annotated[Optional[Path], typer.Option(
        help="series given as a long signal table: its static table (one row per subject)")] = None,
    learn_domain_share: Annotated[Optional[float], typer.Option(
        help="share of ε to learn non-public bounds/categories with DP mechanisms")] = None,
    param: Annotated[Optional[list[str]], typer.Option(help="generator parameter key=value (repeatable)")] = None,
    device: Annotated[str, typer.Option(
        help="where to train: auto (a CUDA GPU when present, else the CPU), cpu, cuda or cuda:N")] = "auto",
    devices: Annotated[int, typer.Option(
        min=1, help="train data-parallel in N processes with opacus DPDDP (one GPU each with a CUDA device, "
                    "else CPU processes); same ε and card as one process")] = 1,
    rebalance: Annotated[Optional[list[str]], typer.Option(
        help="subgroup shares of the synthetic rows (repeatable): race=equal, "
             "race=white:0.5,black:0.3,other:0.2, or sex*race=equal; post-processing, no extra ε")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="replace an existing --out folder (one dpsynth wrote) whole")] = False,
    allow_large_delta: Annotated[bool, typer.Option(
        "--allow-large-delta", help="accept a δ that is not below 1/n (refused otherwise); the card says so")] = False,
):
    """Fit a DP generator on private data and write synthetic data, privacy card and model.

    A NOT PRIVATE reference (sdv-ctgan, sdv-tvae, sdv-gaussiancopula; ε = ∞) writes its
    synthetic data and a card saying "private": false, for comparison only.
    """
    from dpsynth.pipeline import generate as run
    from dpsynth.pipeline import load_schema
    from dpsynth.privacy.rebalance import parse_rebalance

    synthetic_name = _synthetic_name(fmt)
    loaded = load_schema(schema)
    params = _parse_params(param)
    if device != "auto" or "device" in params:
        params.setdefault("device", device)
    if devices != 1 or "devices" in params:
        params.setdefault("devices", devices)
    result = run(data=data, schema=loaded, generator=generator, epsilon=epsilon, delta=delta, rows=rows,
                 seed=seed, out_dir=out, synthetic_name=synthetic_name,
                 learn_domain_share=learn_domain_share, params=params,
                 rebalance=parse_rebalance(rebalance), static=static, force=force,
                 allow_large_delta=allow_large_delta)
    card = result.card
    typer.echo(f"synthetic data : {result.synthetic_path}")
    if not card.private:
        typer.echo(f"privacy card   : {result.card_path}  (NOT PRIVATE: ε = ∞)")
        typer.echo("model bundle   : none (references are not saved; refit with the same seed)")
        _report_data_changes(result.data_report, loaded)
        console.print(f"[bold red]NOT PRIVATE:[/] [red]'{generator}' was trained without differential privacy, "
                      "ε = ∞ — for comparison only, do not release[/]", highlight=False, soft_wrap=True)
        return
    typer.echo(f"privacy card   : {result.card_path}  (ε = {card.epsilon:.3f}, δ = {card.delta:.2g}, "
               f"accountant: {', '.join(card.accountant or ())}; `dpsynth card {result.card_path}` says it in words)")
    typer.echo(f"model bundle   : {result.model_dir}")
    _report_data_changes(result.data_report, loaded)


def _synthetic_name(fmt: str | None) -> str | None:
    """The synthetic file name for ``--format`` (None: the modality's default); every modality's
    formats are accepted here, and the pipeline refuses one its modality cannot write."""
    from dpsynth.modality import modalities

    names = {key: name for modality in modalities() for key, name in modality.formats.items()}
    if fmt is not None and fmt not in names:
        raise DpsynthError(f"--format must be {', '.join(list(names)[:-1])} or {list(names)[-1]} (got {fmt!r})")
    return names.get(fmt)


def _report_data_changes(report, schema) -> None:
    """Tell the operator (console only; never in the release) what the schema's rules changed."""
    from dpsynth.modality import modality_of

    for note in modality_of(schema).data_notes(report):
        typer.echo(note)


@app.command()
@clear_errors
def sample(
    model: Annotated[Path, typer.Option(help="a saved model bundle: the model/ folder `dpsynth generate` wrote")],
    rows: Annotated[int, typer.Option(help="synthetic records to sample (rows, subjects or images)")],
    out: Annotated[Path, typer.Option(
        help="new file (or folder, for PNG images) to write; its extension picks the format; never overwritten")],
    conditions: Annotated[Optional[list[str]], typer.Option(
        "--conditions", help="fix a condition (the target or a sensitive attribute), e.g. sex=female "
                             "(repeatable)")] = None,
    rebalance: Annotated[Optional[list[str]], typer.Option(
        help="subgroup shares, as for `generate --rebalance` (repeatable): race=equal, "
             "race=white:0.5,black:0.3,other:0.2, or sex*race=equal")] = None,
    seed: Annotated[int, typer.Option(help="public seed of the sampling (same seed: same output)")] = 0,
    fmt: Annotated[Optional[str], typer.Option(
        "--format", help="csv or parquet (tabular); npz, csv or parquet (series); npz or png (images); "
                         "default: by the extension of --out")] = None,
    device: Annotated[Optional[str], typer.Option(
        help="where to sample: auto, cpu, cuda or cuda:N (default: the bundle's setting)")] = None,
):
    """Sample a saved DP model again: post-processing, no new privacy cost; the model is only read."""
    from dpsynth.privacy.rebalance import parse_rebalance
    from dpsynth.sampling import sample_bundle

    result = sample_bundle(model_dir=model, rows=rows, out=out, conditions=_parse_conditions(conditions),
                           rebalance=parse_rebalance(rebalance), seed=seed, fmt=fmt, device=device)
    typer.echo(f"synthetic data : {result.synthetic_path}  ({result.records} records from '{result.generator}', seed {seed})")
    for note in result.notes:
        typer.echo(note)
    source = "" if result.epsilon_source == "the model's ledger" else f" (its card: {result.epsilon_source})"
    typer.echo(f"privacy        : sampled from a model released at ε = {result.epsilon:.3f}, "
               f"δ = {result.delta:.2g}{source}; no new privacy cost")


def _parse_conditions(items: list[str] | None) -> dict[str, str]:
    """``["sex=female", "race=black"]`` -> ``{"sex": "female", "race": "black"}``; values stay text."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key or not value:
            raise DpsynthError(BAD_CONDITION.format(item=item))
        if key in out:
            raise DpsynthError(REPEATED_CONDITION.format(key=key))
        out[key] = value
    return out


@app.command()
@clear_errors
def audit(
    train: Annotated[Path, typer.Option(help="real training data")],
    holdout: Annotated[Path, typer.Option(help="real holdout data (never seen by the generator)")],
    synthetic: Annotated[Path, typer.Option(help="synthetic data (from dpsynth or any other tool)")],
    schema: Annotated[Path, typer.Option(help="public schema")],
    out: Annotated[Path, typer.Option(help="audit folder (keep it apart from the release)")],
    card: Annotated[Optional[Path], typer.Option(help="privacy card of the synthetic data")] = None,
    train_static: Annotated[Optional[Path], typer.Option(help="series as long tables: the train static table")] = None,
    holdout_static: Annotated[Optional[Path], typer.Option(
        help="series as long tables: the holdout static table")] = None,
    synthetic_static: Annotated[Optional[Path], typer.Option(
        help="series as long tables: the synthetic static table")] = None,
    min_group_size: Annotated[int, typer.Option(help="groups smaller than this are flagged")] = 30,
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples for confidence intervals")] = 200,
    confidence: Annotated[float, typer.Option(help="level of the bootstrap confidence intervals, in (0, 1)")] = 0.95,
    intersections: Annotated[bool, typer.Option(
        "--intersections/--no-intersections",
        help="also audit pairs of sensitive attributes (e.g. sex×race), not only each one")] = True,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    force: Annotated[bool, typer.Option(
        "--force", help="replace an existing --out audit folder (one dpsynth wrote) whole")] = False,
    thresholds: Annotated[Optional[Path], typer.Option(
        help="YAML file overriding the verdict's pass/warn/fail thresholds (defaults: dpsynth/data/verdict.yaml)")] = None,
):
    """Audit synthetic data against real train and holdout: utility, fairness, fidelity, memorisation."""
    from dpsynth.pipeline import run_audit
    from dpsynth.validators.context import AuditConfig

    if not 0 < confidence < 1:
        raise DpsynthError(BAD_CONFIDENCE.format(confidence=confidence))
    config = AuditConfig(min_group_size=min_group_size, n_bootstrap=bootstrap, confidence=confidence,
                         intersections=intersections, random_state=seed)
    report = run_audit(train=train, holdout=holdout, synthetic=synthetic, schema=schema, out_dir=out, card=card,
              config=config, statics={"train": train_static, "holdout": holdout_static,
                                      "synthetic": synthetic_static}, force=force, thresholds=thresholds)
    _print_verdict(report)
    typer.echo(f"audit report : {out / 'report.html'}  (and report.md; uses real data; not differentially private; "
               "do not release)")
    typer.echo(f"audit table  : {out / 'audit.csv'}")


def _print_verdict(report) -> None:
    """The verdict's checklist in the terminal: one line per check, the number that decided it."""
    from dpsynth.validators.verdict import Thresholds, evaluate

    verdict = evaluate(report.table, report.metadata,
                       Thresholds.from_dict(report.metadata.get("verdict_thresholds") or {}))
    colour = {"pass": "green", "warn": "yellow", "fail": "red"}
    stdout = Console(highlight=False, soft_wrap=True)
    stdout.print(f"verdict      : [bold {colour.get(verdict.status, 'white')}]{verdict.status.upper()}[/]",
                  highlight=False)
    for check in verdict.checks:
        stdout.print(f"  [{colour.get(check.status, 'white')}]{check.status:4s}[/] {check.name:15s} "
                     f"{escape(check.decided_by)}")


@app.command()
@clear_errors(interrupted=SWEEP_INTERRUPTED)
def sweep(
    data: Annotated[Path, typer.Option(help="private training data (the kinds `generate` reads); on a cluster: on "
                                            "storage every node sees")],
    holdout: Annotated[Path, typer.Option(help="real holdout data (never seen by the generators)")],
    schema: Annotated[Path, typer.Option(help="public schema (.yaml or .json); its modality picks the data kind")],
    generators: Annotated[str, typer.Option(help="DP generators, comma-separated, e.g. dp-vae,dp-gan")],
    epsilons: Annotated[str, typer.Option(help="privacy budgets ε, comma-separated, e.g. 0.5,1,2,4,8")],
    out: Annotated[Path, typer.Option(
        help="sweep folder (audit material: not for release); rerun with the same inputs to resume or extend; on a "
             "cluster: on storage every node sees")],
    seeds: Annotated[str, typer.Option(help="public seeds, comma-separated, e.g. 0,1,2")] = "0",
    reference: Annotated[Optional[str], typer.Option(
        help="NOT PRIVATE references (ε = ∞), comma-separated, fitted once per seed, e.g. sdv-tvae")] = None,
    delta: Annotated[Optional[float], typer.Option(help="δ of every cell; default as for generate")] = None,
    rows: Annotated[Optional[int], typer.Option(help="synthetic rows of every cell; default as for generate")] = None,
    param: Annotated[Optional[list[str]], typer.Option(
        help="parameter key=value of every --generators generator (repeatable; references keep their "
             "defaults)")] = None,
    static: Annotated[Optional[Path], typer.Option(
        help="series as a long signal table: the train static table")] = None,
    holdout_static: Annotated[Optional[Path], typer.Option(
        help="series as a long signal table: the holdout static table")] = None,
    address: Annotated[Optional[str], typer.Option(
        help="join the Ray cluster at this address (host:port of its head, or auto); default: a local Ray. Inputs "
             "and --out must then be on storage every node sees")] = None,
    max_parallel: Annotated[Optional[int], typer.Option(
        help="most cells in flight; default: the local CPUs / --cpus-per-cell (on a cluster: what it fits)")] = None,
    cpus_per_cell: Annotated[int, typer.Option(help="CPUs of each cell's Ray task (its torch threads)")] = 1,
    gpus_per_cell: Annotated[float, typer.Option(help="GPUs of each cell's Ray task (e.g. 1, or 0.5 to share)")] = 0,
    min_group_size: Annotated[int, typer.Option(help="audit: groups smaller than this are flagged")] = 30,
    bootstrap: Annotated[int, typer.Option(help="audit: bootstrap resamples for confidence intervals")] = 200,
    confidence: Annotated[float, typer.Option(help="audit: level of the bootstrap intervals, in (0, 1)")] = 0.95,
    intersections: Annotated[bool, typer.Option(
        "--intersections/--no-intersections", help="audit: also pairs of sensitive attributes")] = True,
    thresholds: Annotated[Optional[Path], typer.Option(
        help="YAML file overriding the verdict's pass/warn/fail thresholds (defaults: dpsynth/data/verdict.yaml)")] = None,
    margin: Annotated[float, typer.Option(
        help="price of privacy: a group's TSTR AUROC within this of its TRTR counts as served")] = 0.05,
    force: Annotated[bool, typer.Option(
        "--force", help="replace an existing sweep folder whole (its cells are refitted)")] = False,
):
    """Fit → sample → audit every (generator, ε, seed) cell as Ray tasks, into one resumable folder.

    Each cell runs what `dpsynth generate` and `dpsynth audit` run. The folder holds real-data
    audits: not for release; releasing several cells of one data set adds up their ε. With
    --address (a Ray cluster) the inputs and --out must be on storage every node sees. Exit code
    1 when a cell failed (recorded in DIR/failures/; a rerun retries it).
    """
    from dpsynth.sweep import run_sweep
    from dpsynth.validators.context import AuditConfig
    from dpsynth.validators.report import NOTICE

    if not 0 < confidence < 1:
        raise DpsynthError(BAD_CONFIDENCE.format(confidence=confidence))
    config = AuditConfig(min_group_size=min_group_size, n_bootstrap=bootstrap, confidence=confidence,
                         intersections=intersections)
    result = run_sweep(data=data, holdout=holdout, schema=schema, generators=_split_list(generators, "generators"),
                       epsilons=_split_list(epsilons, "epsilons", float), seeds=_split_list(seeds, "seeds", int),
                       reference=_split_list(reference, "reference") if reference else None, delta=delta, rows=rows,
                       params=_parse_params(param), static=static, holdout_static=holdout_static,
                       audit_config=config, address=address, max_parallel=max_parallel,
                       cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell, out_dir=out, force=force,
                       thresholds=thresholds, margin=margin)
    done = int((result.cells["status"] == "done").sum())
    if done:
        typer.echo(f"report        : {out / 'report' / 'report.html'}  (and report.md, report.json)")
    typer.echo(f"results table : {out / 'results.parquet'}  (and results.csv; {done} of {len(result.cells)} "
               "cells done)")
    typer.echo(f"cells         : {out / 'cells.csv'}")
    console.print(f"[bold red]not for release:[/] [red]{escape(NOTICE)} Releasing several cells of one data set "
                  "composes their privacy cost: their ε add up.[/]", highlight=False, soft_wrap=True)
    if result.failed:
        console.print(f"[bold red]{len(result.failed)} cell(s) failed:[/] {escape(', '.join(result.failed))} "
                      f"(errors in {escape(str(out / 'failures'))}; rerun to retry them)", highlight=False,
                      soft_wrap=True)
        failed = result.cells[result.cells["status"] == "failed"]
        for row in failed.head(MAX_FAILURES_SHOWN).itertuples(index=False):
            console.print(f"  {escape(row.cell)}: {escape(str(row.error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _split_list(text: str, option: str, kind: type = str) -> list:
    """``"0.5,1,2"`` -> ``[0.5, 1.0, 2.0]`` (``kind`` float); one clear line for an item that is not one."""
    items = [item.strip() for item in text.split(",")]
    what, example = {str: ("names", "dp-vae,dp-gan"), float: ("numbers", "0.5,1,2"), int: ("integers", "0,1,2")}[kind]
    try:
        if any(not item for item in items):
            raise ValueError(text)
        return [kind(item) for item in items]
    except ValueError:
        raise DpsynthError(f"--{option} expects {what} separated by commas, e.g. --{option} {example} "
                           f"(got {text!r})") from None


@app.command("privacy-audit")
@clear_errors
def privacy_audit(
    data: Annotated[Path, typer.Option(help="private training data (the same kinds `generate` reads)")],
    schema: Annotated[Path, typer.Option(help="public schema (.yaml or .json)")],
    epsilon: Annotated[Optional[float], typer.Option(help="the privacy budget ε whose claim is audited")] = None,
    generator: Annotated[str, typer.Option(help="registered DP generator name (`dpsynth generators`)")] = "dp-vae",
    delta: Annotated[Optional[float], typer.Option(help="δ; default as for generate, for N = units + canaries")] = None,
    canaries: Annotated[Optional[int], typer.Option(
        help="canaries m (each included with probability 1/2, secretly); default 1000, or the number of "
             "privacy units if fewer")] = None,
    draws: Annotated[int, typer.Option(help="score draws per canary (VAE latents, diffusion time steps)")] = 16,
    seed: Annotated[int, typer.Option(help="public seed: canary content, initial weights, score draws")] = 0,
    static: Annotated[Optional[Path], typer.Option(
        help="series given as a long signal table: its static table (one row per subject)")] = None,
    param: Annotated[Optional[list[str]], typer.Option(help="generator parameter key=value (repeatable)")] = None,
    device: Annotated[str, typer.Option(help="where to train: auto, cpu, cuda or cuda:N")] = "auto",
    out: Annotated[Optional[Path], typer.Option(
        help="write the result as JSON here (keep it apart from release bundles)")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing --out file")] = False,
):
    """One-run privacy audit of DP training (Steinke, Nasr & Jagielski 2023): insert canaries, train once,
    report the empirical ε lower bound (95 % confidence) beside the card's ε.

    Exit code 0: the bound does not contradict the card; 2: bad input; 3: the bound exceeds the
    card's ε — a privacy bug, do not release. Uses real data; the audit is not a release.
    """
    from dpsynth.bundle import check_new_file, write_file_atomically
    from dpsynth.privacy_audit import NOT_A_RELEASE, one_run_audit

    if out is not None:
        check_new_file(out, force=force)  # before the audit's training, not after
    params = _parse_params(param)
    if device != "auto" or "device" in params:
        params.setdefault("device", device)
    typer.echo(NOT_A_RELEASE)
    result = one_run_audit(data=data, schema=schema, generator=generator, epsilon=epsilon, delta=delta,
                           canaries=canaries, params=params, draws=draws, seed=seed, static=static)
    typer.echo(f"generator      : {result.generator}")
    typer.echo(f"canaries       : {result.canaries} (each included with probability 1/2, secretly; "
               f"{result.canaries_included} were)")
    typer.echo(f"card           : ε = {result.card_epsilon:.3f}, δ = {result.card_delta:.2g}")
    typer.echo(f"ε lower bound  : {result.epsilon_lower_bound:.3f} at {result.confidence:.0%} confidence "
               f"({result.correct} of {result.guesses} guesses right, side '{result.side}'; the most "
               f"{result.canaries} canaries can show: {result.best_possible:.2f})")
    if out is not None:
        text = json.dumps(result.to_dict(), indent=2) + "\n"
        write_file_atomically(out, lambda tmp: tmp.write_text(text), force=force)
        typer.echo(f"audit result   : {out}")
    if result.contradicts_card:
        console.print("[bold red]PRIVACY BUG:[/] [red]the empirical lower bound ε ≥ "
                      f"{result.epsilon_lower_bound:.3f} exceeds the card's ε = {result.card_epsilon:.3f} for "
                      f"'{generator}': the DP training does not give the privacy its card claims. "
                      "Do not release; report it.[/]",
                      highlight=False, soft_wrap=True)
        raise typer.Exit(CONTRADICTS_CARD)
    typer.echo("result         : consistent with the card (the lower bound does not exceed its ε)")
    if result.best_possible <= result.card_epsilon:
        typer.echo(f"note: {result.canaries} canaries cannot show a bound above {result.best_possible:.2f}, "
                   "the card's ε or less; more canaries make the audit stronger")


@schema_app.command("draft")
@clear_errors
def schema_draft(
    data: Annotated[Path, typer.Argument(help="data file to draft from")],
    target: Annotated[str, typer.Option(help="binary outcome column")],
    out: Annotated[Path, typer.Option(help="schema file to write (.yaml or .json)")],
    sensitive: Annotated[str, typer.Option(help="comma-separated sensitive attributes")] = "",
    positive: Annotated[Optional[str], typer.Option(help="positive outcome label")] = None,
    subject_id: Annotated[Optional[str], typer.Option(help="column identifying the patient")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing --out schema file")] = False,
):
    """Draft a schema from data; every data-derived value is marked public: false for review."""
    from dpsynth.bundle import check_new_file, write_file_atomically
    from dpsynth.table_io import read_table
    from dpsynth.tabular.schema import draft_schema

    check_new_file(out, force=force)  # a curated schema is never replaced by a draft silently
    frame = read_table(data)
    names = [s.strip() for s in sensitive.split(",") if s.strip()]
    drafted = draft_schema(frame, target=target, sensitive=names, positive=positive, subject_id=subject_id)
    write_file_atomically(out, drafted.save, force=force)
    typer.echo(f"draft schema: {out}")
    typer.echo(f"{len(drafted.not_public())} value(s) are data-derived and marked public: false; edit them "
               "to public values (or pass --learn-domain-share to `dpsynth generate`) before training.")


@schema_app.command("check")
@clear_errors
def schema_check(
    schema: Annotated[Path, typer.Argument(help="schema file")],
    data: Annotated[Optional[Path], typer.Option(help="data file to check against the schema")] = None,
):
    """Validate a schema file (and optionally a data file against it)."""
    from dpsynth.modality import modality_of
    from dpsynth.pipeline import load_data, load_schema

    loaded = load_schema(schema)
    modality = modality_of(loaded)
    typer.echo(modality.describe_schema(loaded))
    if loaded.not_public():
        typer.echo(f"not public yet: {', '.join(loaded.not_public())}")
    if data is not None:
        _, report = loaded.conform(load_data(data, loaded))
        typer.echo(modality.describe_data(report))


@app.command()
@clear_errors
def demo(
    out: Annotated[Path, typer.Option(help="output folder")] = Path("runs/demo"),
    epsilon: Annotated[float, typer.Option(help="privacy budget ε")] = 1.0,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
):
    """Run the default job on SUPPORT2 (bundled real data): fit at ε, sample, audit."""
    from dpsynth.demo import run_demo

    typer.echo("dpsynth demo: SUPPORT2 (9,105 seriously ill adults), outcome death within 180 days,"
               f" sensitive: sex, race, age band; DP-VAE at ε={epsilon:g}, δ=1e-5")
    result = run_demo(out, epsilon=epsilon, seed=seed)
    card = result.release.card
    typer.echo(f"synthetic data : {result.release.synthetic_path}")
    typer.echo(f"privacy card   : {result.release.card_path}  (ε = {card.epsilon:.3f}, δ = {card.delta:.0e})")
    typer.echo(f"model bundle   : {result.release.model_dir}")
    typer.echo(f"audit report   : {result.report_path}  (real data; not DP; keep apart from the release)")
    _print_verdict(result.report)
    for key, value in result.headline.items():
        typer.echo(f"  {key:58s} {value}")


@app.command("report")
@clear_errors
def report(
    folder: Annotated[Path, typer.Argument(help="a sweep folder (the --out of `dpsynth sweep`)")],
    thresholds: Annotated[Optional[Path], typer.Option(
        help="YAML file overriding the verdict's pass/warn/fail thresholds (defaults: dpsynth/data/verdict.yaml)")] = None,
    margin: Annotated[float, typer.Option(
        help="price of privacy: a group's TSTR AUROC within this of its TRTR counts as served")] = 0.05,
):
    """Rebuild a sweep's frontier report (FOLDER/report/: HTML, Markdown, JSON, plots) from its cells."""
    from dpsynth.sweep import check_margin, read_sweep, write_report
    from dpsynth.sweep_table import write_tables

    check_margin(margin)
    result = read_sweep(folder)  # the tables rebuilt from the finished cells (a killed sweep's too)
    if not (result.cells["status"] == "done").any():
        raise DpsynthError(f"'{folder}' has no finished cell yet: run `dpsynth sweep` (the same command resumes)")
    write_tables(result.folder, result.table, result.cells)
    paths = write_report(result.folder, thresholds=thresholds, margin=margin)
    typer.echo(f"report : {paths['html']}  (and report.md, report.json; real data: not for release)")


@app.command("verify")
@clear_errors
def verify_folder(
    path: Annotated[Path, typer.Argument(help="a release bundle (or a model/ or audit folder) dpsynth wrote")],
):
    """Check a bundle: every file against its manifest, the model's ledger re-derived, the card against it.

    Exit code 0: intact and consistent; 2: a file is missing, changed or added, or the card
    does not match the model's ledger (the message names the file)."""
    from dpsynth.verify import verify

    result = verify(path)
    what = {"release": "release bundle", "model": "model folder", "audit": "audit folder"}[result.kind]
    typer.echo(f"verified       : {result.folder} ({what}; {result.files} files match the manifest)")
    if result.private:
        typer.echo(f"privacy        : ε = {result.epsilon:.3f}, δ = {result.delta:.2g}, recomputed from the "
                   "model's ledger" + (" and equal to the card's" if result.kind == "release" else ""))
    elif result.private is False:
        console.print("[bold red]NOT PRIVATE (ε = ∞):[/] [red]a reference for comparison only; do not release[/]",
                      highlight=False)


@app.command("card")
@clear_errors
def show_card(
    path: Annotated[Path, typer.Argument(help="a privacy_card.json, or the release folder that holds it")],
    as_json: Annotated[bool, typer.Option("--json", help="print the card's normalised JSON instead")] = False,
):
    """Say in words what a release's privacy card guarantees (ε, δ, unit, what is and is not covered)."""
    from dpsynth.privacy.card import PrivacyCard

    loaded = PrivacyCard.read(path)
    typer.echo(loaded.to_json() if as_json else loaded.describe())
    if not loaded.private and not as_json:
        console.print("[bold red]NOT PRIVATE (ε = ∞):[/] [red]do not release[/]", highlight=False)


@app.command("generators")
@clear_errors
def list_generators(
    params: Annotated[Optional[str], typer.Option(
        "--params", metavar="NAME", help="list the parameters of generator NAME: name, default, description")] = None,
):
    """List the registered generators with their family and modality (or one generator's parameters)."""
    from dpsynth import registry
    from dpsynth.params import shown

    if params is not None:
        info = registry.get(params)
        table = Table("parameter", "default", "description", title=f"{info.name} ({info.family}, {info.modality})",
                      caption="set with --param name=value; values are read as JSON: 0.01, [128, 128], null, true")
        table.columns[0].no_wrap = True
        for row in registry.parameters(params):
            table.add_row(row.name, escape(shown(row.default)), escape(row.help))
        Console().print(table)
        return
    table = Table("name", "family", "modality", "private", "description")
    for info in registry.available():
        table.add_row(info.name, info.family, info.modality, "yes" if info.private else "NO (ε = ∞)",
                      info.description)
    Console().print(table)


if __name__ == "__main__":  # pragma: no cover
    app()
