"""The held-out evaluation of benchmarks/: one set of random-offset fragments and negatives for every
seed and model, the same pieces in the same order from a trained model directory, and the summary's
intervals and cascade."""

import sys
from pathlib import Path

import pandas as pd
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import heldout_summary  # noqa: E402
import neural_experiment  # noqa: E402

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
SHEET = """sample\tspecies\tstrain\tpath\tsplit
G27\tHelicobacter pylori\tG27\tgenomes/Helicobacter_pylori/G27.fa.gz\ttrain
Puno120\tHelicobacter pylori\tPuno120\tgenomes/Helicobacter_pylori/Puno120.fa.gz\tvalidation
ELS37\tHelicobacter pylori\tELS37\tgenomes/Helicobacter_pylori/ELS37.fa.gz\ttest
COL\tStaphylococcus aureus\tCOL\tgenomes/Staphylococcus_aureus/COL.fa.gz\ttrain
N315\tStaphylococcus aureus\tN315\tgenomes/Staphylococcus_aureus/N315.fa.gz\tvalidation
RF122\tStaphylococcus aureus\tRF122\tgenomes/Staphylococcus_aureus/RF122.fa.gz\ttest
human\tHomo sapiens\tchr22\tgenomes/Homo_sapiens/chr22_slice.fa.gz\tnone
"""
PARAMS = ('{"d_model": 8, "n_layers": 1, "d_state": 4, "steps": 6, "window": 256, "batch_size": 4, '
          '"eval_windows": 4, "log_every": 0, "ood_windows": [1, 2]}')


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("heldout")
    (root / "sheet.tsv").write_text("# a comment line\n" + SHEET)
    (root / "params.json").write_text(PARAMS)
    common = ["--sheet", str(root / "sheet.tsv"), "--data", str(RESOURCES), "--out", str(root / "out"),
              "--lengths", "1000", "--per-species", "4", "--negative-lengths", "3000", "--negatives-per-kind", "1"]
    assert neural_experiment.main([*common, "--params", str(root / "params.json"), "--seeds", "1", "2"]) == 0
    assert neural_experiment.main([*common, "--model", str(root / "out" / "model-1"), "--name", "again"]) == 0
    return root / "out"


def test_every_seed_and_model_scores_the_same_pieces(run):
    one, two, again = (pd.read_csv(run / f"calls-{name}.tsv", sep="\t") for name in ("1", "2", "again"))
    pieces = ["set", "split", "length", "sample", "species", "record", "start"]
    assert one[pieces].equals(two[pieces]) and one[pieces].equals(again[pieces])
    assert one.drop(columns="seed").equals(again.drop(columns="seed"))   # the saved model scores alike
    fragments = one[one.set == "fragment"]
    assert len(fragments) == 2 * 2 * 4 and set(fragments.split) == {"validation", "test"}
    assert sorted(one[one.set.str.startswith("negative")].set.str[9:]) == sorted(
        ["uniform", "gc_skewed", "shuffled", "reversed"])
    assemblies = one[one.set == "assembly"]
    assert set(assemblies["sample"]) == {"Puno120", "ELS37", "N315", "RF122", "human"}
    assert assemblies.set_index("sample").species["human"] == "unclassified"


def test_summary_intervals_and_cascade(run):
    model = heldout_summary.read_model([str(run / "calls-[0-9].tsv")])
    result = heldout_summary.summarise("m", model)
    for row in result["fragments"]:
        assert row["seeds"] == 2 and row["ci_low"] <= row["accuracy"] <= row["ci_high"]
        assert row["seed_min"] <= row["accuracy"] <= row["seed_max"]
    assert result["assemblies"]["all"] == 2 * 5
    first = heldout_summary.read_model([str(run / "calls-1.tsv")]).reset_index(drop=True)
    second = heldout_summary.read_model([str(run / "calls-2.tsv")]).reset_index(drop=True)
    cascaded = heldout_summary.cascade(first, second)
    expected = first.call.where(first.call != "unclassified", second.call)
    assert cascaded.call.tolist() == expected.tolist()
    everything = heldout_summary.rethreshold(model, 0.0)
    assert (everything.call[everything.confidence > 0] != "unclassified").all()
