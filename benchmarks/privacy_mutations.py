"""Mutation check of the privacy contract: break each rule on purpose, run the tests that must
catch it, and print the scoreboard as JSON.

A rule without a test that fails when the rule is broken is not kept. Each entry of
`MUTATIONS` is one deliberate break (a one-spot edit of the source) and the tests that must
fail under it. The script first runs every listed test on the unchanged tree (they must
pass), then applies one break at a time, runs its tests, and restores the file — also on
Ctrl-C or an error. Run it on a clean working tree; it edits files in place while it runs.
Run it in the checkout whose `.venv` installed dpsynth: the editable install maps
`dpsynth.generators` to that checkout's `generators/` folder, so a break made there in another
clone would go unseen.

    python benchmarks/privacy_mutations.py > benchmarks/results/privacy_mutations.json

About 5–10 minutes on 2 CPU cores. Exit status 1 if a break goes uncaught.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    rule: str
    breaks: str  # what the edit does, in words
    path: str  # file edited, relative to the repository root
    old: str  # the exact source it replaces (must occur once)
    new: str
    tests: tuple[str, ...]  # pytest arguments selecting the tests that must fail


RANDOMNESS = "tests/unit/privacy/test_randomness.py"
MUTATIONS = [
    Mutation("9 secret randomness", "DP-SGD noise from a fixed seed", "dpsynth/families/training.py",
             "noise = None if secure_mode else secret_torch_generator(module_device(module))",
             "noise = None if secure_mode else torch.Generator(device=module_device(module)).manual_seed(0)",
             (RANDOMNESS, "-k", "opacus_noise")),
    Mutation("9 secret randomness", "Poisson sampling from torch's global generator", "dpsynth/families/training.py",
             "batch_size=plan.batch_size, generator=sampling)", "batch_size=plan.batch_size, generator=None)",
             (RANDOMNESS, "-k", "opacus_noise")),
    Mutation("9 secret randomness", "training draws (loss noise, keep_rows) from the user's seed",
             "dpsynth/generator.py", "with secret_torch_rng(device):", "with public_torch_rng(seed, device):",
             (RANDOMNESS, "-k", "inside_training")),
    Mutation("9 secret randomness", "condition-count noise from a seeded numpy generator",
             "dpsynth/privacy/mechanisms.py",
             "return np.asarray(measurement(counts.ravel().tolist()), dtype=float).reshape(counts.shape)",
             "return counts + np.random.default_rng(0).laplace(0.0, 1.0 / epsilon, counts.shape)",
             (RANDOMNESS, "-k", "replaying")),
    Mutation("9 secret randomness", "a unit's row subsample drawn from the seed", "dpsynth/generator.py",
             "prepared = self._prepare(data, schema, codec, secret_numpy_generator())",
             "prepared = self._prepare(data, schema, codec, np.random.default_rng(seed))",
             (RANDOMNESS, "-k", "row_subsample")),
    Mutation("2 public bounds and domains", "bin edges fitted on the private data inside encode "
             "(stored edges unchanged)", "dpsynth/tabular/codec.py",
             "            edges = self._bin_edges[col.name]\n            k = blocks[\"bin\"].size\n",
             "            edges = np.quantile(x, np.linspace(0, 1, len(self._bin_edges[col.name]))) if len(x) "
             "else self._bin_edges[col.name]\n            k = blocks[\"bin\"].size\n",
             ("tests/unit/tabular/test_codec.py", "-k", "rule_2")),
    Mutation("2 public bounds and domains", "a learned column keeps the nullable/integer flags drafted from data",
             "dpsynth/tabular/domain.py", "        col.nullable, col.integer = True, False", "        pass",
             ("tests/unit/tabular/test_domain.py", "-k", "rule_2")),
    Mutation("2 public bounds and domains", "the draft's kind follows the number of distinct values",
             "dpsynth/tabular/schema.py", "        if numeric and name != target:",
             "        if numeric and name != target and series.nunique(dropna=True) > 2:",
             ("tests/unit/tabular/test_domain.py", "-k", "rule_2")),
    Mutation("1 every read is a ledger entry", "condition counts computed without a ledger charge",
             "dpsynth/privacy/conditions.py", "    ledger.charge(LedgerEntry(\n        mechanism=\"laplace-histogram\"",
             "    (LedgerEntry(\n        mechanism=\"laplace-histogram\"",
             ("tests/unit/generators/test_tabular_vae.py", "-k", "ledger_holds")),
    Mutation("3 Poisson sampling, σ fixed before training", "fixed shuffled batches behind the Poisson flag",
             "dpsynth/families/training.py", "        for batch in private.loader:",
             "        for batch in DataLoader(private.loader.dataset, batch_size=plan.batch_size, shuffle=True):",
             ("tests/unit/families/test_training.py", "-k", "poisson")),
    Mutation("3 Poisson sampling, σ fixed before training", "half the planned noise multiplier",
             "dpsynth/families/training.py", "noise_multiplier=plan.noise_multiplier, max_grad_norm",
             "noise_multiplier=plan.noise_multiplier / 2, max_grad_norm",
             ("tests/unit/generators/test_tabular_vae.py", "-k", "ledger_holds")),
    Mutation("3 Poisson sampling, σ fixed before training", "data-parallel: each rank adds its own noise (no DPDDP)",
             "dpsynth/families/data_parallel.py", "    return DPDDP(module) if world_size() > 1 else module",
             "    return module",
             ("tests/unit/families/test_data_parallel.py", "-k", "step or noise")),
    Mutation("3 Poisson sampling, σ fixed before training", "data-parallel: a rank skips its empty share of a draw",
             "dpsynth/families/data_parallel.py",
             "            yield sampled[sampled % self.world == self.rank].tolist()",
             "            if (sampled % self.world == self.rank).any():\n"
             "                yield sampled[sampled % self.world == self.rank].tolist()",
             ("tests/unit/families/test_data_parallel.py", "-k", "share")),
    Mutation("5 δ sanity", "default δ = 1/n^1.1 to full precision (gives n back)", "dpsynth/privacy/budget.py",
             "return min(1e-5, 10.0 ** math.floor(-1.1 * math.log10(n_units)))",
             "return min(1e-5, 1.0 / n_units**1.1)",
             ("tests/unit/privacy/test_budget.py", "-k", "exact_count")),
    Mutation("5 δ sanity", "δ ≥ 1/n accepted without the user's override", "dpsynth/privacy/budget.py",
             "if n_units > 0 and self.delta >= 1.0 / n_units and not self.allow_large_delta:",
             "if False:", ("tests/unit/privacy/test_budget.py", "-k", "one_over_n")),
    Mutation("6 what is released is DP", "a DP-SGD ledger entry's ε taken as recorded, not re-derived",
             "dpsynth/privacy/recheck.py",
             "return epsilon_for_history(history, delta=entry.delta, accountant=params[\"accountant\"])",
             "return entry.epsilon", ("tests/unit/test_verify.py", "-k", "forged")),
    Mutation("6 what is released is DP", "verify never holds the card's ε against the ledger", "dpsynth/verify.py",
             "if on_card is None or not math.isclose(on_card, spent, rel_tol=1e-9, abs_tol=1e-12):",
             "if False:", ("tests/unit/test_verify.py", "-k", "disagrees")),
    Mutation("6 what is released is DP", "a release written in place, not staged and swapped", "dpsynth/bundle.py",
             "        yield staging\n        write_manifest(staging, kind=kind)\n        _publish(staging, target, force=force)",
             "        target.mkdir(exist_ok=True)\n        yield target\n        write_manifest(target, kind=kind)",
             ("tests/unit/test_bundle.py",)),
    Mutation("6 what is released is DP", "the default synthetic row count is the exact n", "dpsynth/pipeline.py",
             "rows = max(1, int(round(float(model.condition_table_[NOISY].sum()))))", "rows = len(frame)",
             ("tests/unit/test_pipeline.py",)),
    Mutation("6 what is released is DP", "the GAN's non-private generator step fed the real batch's conditions",
             "dpsynth/families/gan.py", "g_c = sample_conditions(plan.batch_size).to(device)",
             "g_c = c.reshape(-1, c.shape[-1]).to(device)", ("tests/unit/families/test_gan.py",)),
    Mutation("8 the privacy unit is the patient", "each row its own unit although the schema names a subject",
             "dpsynth/tabular/generator.py",
             "        if schema.subject_id is None:\n            return (torch.from_numpy(x[:, None, :])",
             "        if True:\n            return (torch.from_numpy(x[:, None, :])",
             ("tests/unit/generators/test_tabular_vae.py", "-k", "subject_is_the_privacy_unit")),
    Mutation("10 empirical checks never contradict the card", "membership rows above the card's bound go unflagged",
             "validators/membership.py",
             "                fields[\"flag\"] = join_flags(fields[\"flag\"], CONTRADICTS_CARD)", "                pass",
             ("tests/unit/validators/test_membership.py", "-k", "contradict")),
    Mutation("10 empirical checks never contradict the card", "the one-run audit never reports a contradiction",
             "dpsynth/privacy_audit.py", "return self.epsilon_lower_bound > self.card_epsilon", "return False",
             ("tests/unit/test_privacy_audit.py", "-k", "noise_switched_off")),
    Mutation("9 secret randomness", "the marginals' Gaussian noise from a seeded numpy generator",
             "dpsynth/privacy/marginals.py",
             "return np.asarray(measurement(values.ravel().tolist()), dtype=float).reshape(values.shape)",
             "return values + np.random.default_rng(0).normal(0.0, gaussian_scale(sensitivity, rho), values.shape)",
             ("tests/unit/privacy/test_marginals.py", "-k", "rule_9")),
    Mutation("1 every read is charged", "the marginals' one-way counts noised as if one unit moved one block",
             "dpsynth/families/marginal.py", "sensitivity = math.sqrt(len(measured))", "sensitivity = 1.0",
             ("tests/unit/families/test_marginal.py", "-k", "sensitivity")),
    Mutation("8 the privacy unit is the patient", "each of a patient's rows counted with weight 1 in the marginals",
             "dpsynth/families/marginal.py",
             "weight = (mask / mask.sum(-1, keepdim=True).clamp_min(1.0)).reshape(-1)", "weight = mask.reshape(-1)",
             ("tests/unit/families/test_marginal.py", "-k", "sensitivity")),
    Mutation("6 what is released is DP", "a marginal ledger entry's ε taken as recorded, not re-derived",
             "dpsynth/privacy/recheck.py", "        return marginals_epsilon(params, entry.delta)",
             "        return None", ("tests/unit/generators/test_tabular_marginal.py", "-k", "forged")),
    Mutation("1 every read is charged", "the moments' rows summed without the clip the quantile chose",
             "dpsynth/families/moments.py",
             "d = clip_rows(module.coefficients(x.reshape(-1, x.shape[-1])).double() - centre, bound)",
             "d = module.coefficients(x.reshape(-1, x.shape[-1])).double() - centre",
             ("tests/unit/families/test_moments.py", "-k", "sensitivity")),
    Mutation("8 the privacy unit is the patient", "each of a patient's images counted with weight 1 in the moments",
             "dpsynth/families/moments.py", "return mask / mask.sum(-1, keepdim=True).clamp_min(1.0)", "return mask",
             ("tests/unit/families/test_moments.py", "-k", "sensitivity")),
    Mutation("1 every read is charged", "the clip chosen as the exact quantile, without the private quantile",
             "dpsynth/families/moments.py",
             "    bound = private_quantile(unit_distances(",
             "    bound = (lambda v, candidates, alpha, rho: float(np.quantile(v, alpha)))(unit_distances(",
             ("tests/unit/families/test_moments.py", "-k", "rho")),
    Mutation("1 every read is charged", "each class's covariance noised as if a unit's C² were split among the classes",
             "dpsynth/families/moments.py", "sensitivity=sensitivity,\n",
             "sensitivity=sensitivity / len(measured),\n",
             ("tests/unit/families/test_moments.py", "-k", "sensitivity")),
    Mutation("1 every read is charged", "the covariance chosen ('auto') on the exact class counts, not the noisy ones",
             "dpsynth/families/moments.py", "covariance = resolve_covariance(covariance, class_counts,",
             "covariance = resolve_covariance(covariance, np.diag(joint[:, blocks[target]]),",
             ("tests/unit/families/test_moments.py", "-k", "noisy")),
    Mutation("1 every read is charged", "a target pair's cells merged by the exact one-way counts, not the noisy ones",
             "dpsynth/families/marginal.py", "cell_groups(p, pair_groups, merge=merge) for p, merge in zip(probs, merges)",
             "cell_groups(simplex(v), pair_groups, merge=merge) for v, merge in zip(one_way_exact, merges)",
             ("tests/unit/families/test_marginal.py", "-k", "noisy")),
    Mutation("1 every read is charged", "the selection score not halved (one unit moves it by up to 2, not 1)",
             "dpsynth/families/marginal.py", "* pair_sd * joint.size) / 2", "* pair_sd * joint.size)",
             ("tests/unit/families/test_marginal.py", "-k", "association_score")),
    Mutation("1 every read is charged", "the target pairs measured on their whole stage after the selection took part",
             "dpsynth/families/marginal.py", "measuring = stage_rho - choosing", "measuring = stage_rho",
             ("tests/unit/families/test_marginal.py", "-k", "share_the_stage")),
    Mutation("1 every read is charged", "the anchored diffusion's DP-SGD planned on the whole budget beside its anchor",
             "generators/image_diffusion.py",
             "epsilon=(1.0 - self.anchor_share) * epsilon, delta=delta / 2)", "epsilon=epsilon, delta=delta / 2)",
             ("tests/unit/generators/test_image_diffusion.py", "-k", "ledger")),
]


def run_tests(args: tuple[str, ...]) -> tuple[int, float, str]:
    """pytest's exit status, seconds, and the first failing test's line."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, capture_output=True, text=True)
    failed = next((line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))), "")
    return done.returncode, round(time.perf_counter() - start, 1), failed


def mutated(mutation: Mutation) -> tuple[Path, str]:
    path = ROOT / mutation.path
    source = path.read_text()
    if source.count(mutation.old) != 1:
        raise SystemExit(f"mutation '{mutation.breaks}': its source text occurs {source.count(mutation.old)} "
                         f"times in {mutation.path} (must be once); update MUTATIONS")
    return path, source


def main() -> int:
    for mutation in MUTATIONS:
        mutated(mutation)  # every break applies before anything runs
    for args in sorted({m.tests for m in MUTATIONS}):
        status, _, failed = run_tests(args)
        if status != 0:
            raise SystemExit(f"the unchanged tree fails {' '.join(args)}: {failed}; fix that first")
    board = []
    for mutation in MUTATIONS:
        path, source = mutated(mutation)
        try:
            path.write_text(source.replace(mutation.old, mutation.new))
            status, seconds, failed = run_tests(mutation.tests)
        finally:
            path.write_text(source)
        board.append(asdict(mutation) | {"caught": status != 0, "seconds": seconds, "failed": failed})
        print(f"{'caught' if status else 'MISSED'}: {mutation.breaks}", file=sys.stderr)
    caught = sum(row["caught"] for row in board)
    for row in board:
        del row["old"], row["new"]
    print(json.dumps({"benchmark": "privacy_mutations", "date": date.today().isoformat(),
                      "caught": caught, "total": len(board), "mutations": board}, indent=2))
    return 0 if caught == len(board) else 1


if __name__ == "__main__":
    sys.exit(main())
