"""The combined classifier (a cascade of trained models), its model directory, `genomamba train --kind
combined`, and its place in the workflow's config and DAG.

Small real members (sourmash, k-mer, a tiny Mamba) are trained once on stores of the embedded slices;
the cascade's edge cases use stand-in members whose scores are set by hand."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from snakemake.utils import update_config

from genomamba import workflow as gw
from genomamba.calls import UNCLASSIFIED, decide, read_calls
from genomamba.classifiers import Classifier, load
from genomamba.classifiers.combined import (THRESHOLD, CombinedClassifier, Member, on_combined_scale,
                                            resolve_params)
from genomamba.classifiers.kmer import KmerClassifier
from genomamba.classifiers.mamba import MambaClassifier
from genomamba.classifiers.sketch import SourmashClassifier
from genomamba.cli import main
from genomamba.errors import ConfigError, InputError
from genomamba.inputs import fragments, iter_records
from genomamba.split import Split

from test_classify_support import QUIET, TINY_MAMBA, build_split

REPO = Path(__file__).resolve().parents[1]
SPECIES = ["A a", "B b"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(split, name -> directory of a small trained model): sourmash, kmer, mamba."""
    root = tmp_path_factory.mktemp("members")
    split = build_split(root / "stores")
    fitted = {"sourmash": SourmashClassifier.fit(split, {"scaled": 50, "validation_windows_per_strain": 10},
                                                 seed=0, **QUIET),
              "kmer": KmerClassifier.fit(split, {"windows_per_strain": 60, "validation_windows_per_strain": 30},
                                         seed=1, **QUIET),
              "mamba": MambaClassifier.fit(split, TINY_MAMBA, seed=1, **QUIET)}
    for name, model in fitted.items():
        model.save(root / name)
    return split, {name: root / name for name in fitted}


@pytest.fixture(scope="module")
def split(trained):
    return trained[0]


@pytest.fixture(scope="module")
def dirs(trained):
    return trained[1]


def pieces(split, parts=("train", "test"), fragment_length=10000):
    """Token chunks of the training strains' records (which sourmash recognises), the held-out strains'
    and the human slice's fragments (which it mostly does not): (name, chunks)."""
    out = []
    for part in parts:
        for row in split.samples(part):
            for record in iter_records(row.store):
                for piece in fragments(record, fragment_length) if part != "train" else [record]:
                    out.append((f"{row.sample}/{piece.name}", [np.array(c) for c in piece.chunks()]))
    return out


def own_call(model, chunks):
    probs, confidence = model.score(iter(chunks))
    return decide(probs, confidence, model.species, model.threshold), probs, confidence


# ---- the cascade, with stand-in members ----------------------------------------------------------

class Fixed(Classifier):
    """A member whose score is set by hand; it records the tokens it was given."""
    kind = "fixed"

    def __init__(self, probs, confidence, threshold, species=SPECIES):
        self.species, self.threshold = list(species), threshold
        self.probs, self.confidence, self.seen = np.array(probs, float), confidence, []

    def score(self, chunks):
        self.seen.append(np.concatenate(list(chunks)))
        return self.probs, self.confidence

    @classmethod
    def fit(cls, split, params, seed, log=print):
        raise NotImplementedError

    def save(self, model_dir):
        raise NotImplementedError

    @classmethod
    def load(cls, model_dir):
        raise NotImplementedError


def cascade(*members):
    return CombinedClassifier([Member(f"m{i}", m) for i, m in enumerate(members)])


def one_pass(tokens, size):
    """A chunk stream that can be read only once, as a reader's is."""
    yield from (tokens[i:i + size] for i in range(0, len(tokens), size))


@pytest.mark.parametrize("confidence, threshold, expected", [
    (0.7, 0.7, 0.5), (1.0, 0.7, 1.0), (0.85, 0.7, 0.75), (0.35, 0.7, 0.25), (0.0, 0.7, 0.0),
    (0.2, 0.0, 0.6), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (0.5, 1.0, 0.25),
])
def test_a_members_threshold_lands_on_the_combined_threshold(confidence, threshold, expected):
    assert on_combined_scale(confidence, threshold) == pytest.approx(expected)


def test_the_scale_keeps_order_and_sides_of_the_threshold():
    for threshold in (0.0, 0.05, 0.5, 0.93, 1.0):
        grid = np.linspace(0, 1, 201)
        mapped = np.array([on_combined_scale(c, threshold) for c in grid])
        assert np.all(np.diff(mapped) >= 0) and mapped.min() >= 0 and mapped.max() <= 1
        calls = (grid > 0) & (grid >= threshold)
        assert np.array_equal(mapped >= THRESHOLD, calls), threshold
    below = np.nextafter(0.3, 0)  # the largest confidence under a threshold of 0.3
    assert on_combined_scale(below, 0.3) < THRESHOLD


def test_first_confident_member_decides_and_later_ones_are_not_run():
    first, second = Fixed([0.9, 0.1], 0.9, 0.8), Fixed([0.2, 0.8], 0.99, 0.5)
    tokens = np.arange(1000, dtype=np.uint8) % 5
    probs, confidence = cascade(first, second).score(one_pass(tokens, 300))
    assert np.array_equal(probs, [0.9, 0.1]) and confidence == pytest.approx(0.75)
    assert np.array_equal(first.seen[0], tokens) and second.seen == []
    assert decide(probs, confidence, SPECIES, THRESHOLD) == "A a"


def test_an_unsure_member_passes_to_the_next_which_sees_the_same_tokens():
    first, second = Fixed([0.6, 0.4], 0.6, 0.8), Fixed([0.1, 0.7], 0.7, 0.5)   # no-species class: sum < 1
    tokens = np.arange(1000, dtype=np.uint8) % 5
    probs, confidence = cascade(first, second).score(one_pass(tokens, 300))
    assert np.array_equal(probs, [0.1, 0.7]) and confidence == pytest.approx(0.7)
    assert np.array_equal(first.seen[0], tokens) and np.array_equal(second.seen[0], tokens)
    assert decide(probs, confidence, SPECIES, THRESHOLD) == "B b"


def test_no_confident_member_is_unclassified_with_the_last_members_scores():
    first, second, third = Fixed([0.5, 0.5], 0.5, 0.8), Fixed([0.3, 0.7], 0.0, 0.0), Fixed([0.4, 0.6], 0.3, 0.6)
    probs, confidence = cascade(first, second, third).score([np.zeros(10, np.uint8)])
    assert np.array_equal(probs, [0.4, 0.6]) and confidence == pytest.approx(0.25)
    assert decide(probs, confidence, SPECIES, THRESHOLD) == UNCLASSIFIED
    _, at_zero = cascade(first, second).score([np.zeros(10, np.uint8)])   # a 0 confidence is no call
    assert at_zero == 0


class EvenLengths(Fixed):
    """A member confident only of records of an even length."""

    def score(self, chunks):
        probs, confidence = super().score(chunks)
        return probs, confidence if len(self.seen[-1]) % 2 == 0 else 0.0


def test_scoring_many_records_passes_each_unsure_one_to_the_next_member():
    first, second = EvenLengths([0.9, 0.1], 0.9, 0.8), Fixed([0.2, 0.8], 0.99, 0.5)
    records = [np.full(n, n % 5, np.uint8) for n in (10, 11, 12, 13, 0)]
    many = cascade(first, second).score_many(records)
    assert [len(tokens) for tokens in first.seen] == [10, 11, 12, 13, 0]
    assert [len(tokens) for tokens in second.seen] == [11, 13]
    assert many == [cascade(first, second).score([tokens]) for tokens in records]
    assert [decide(p, c, SPECIES, THRESHOLD) for p, c in many] == ["A a", "B b", "A a", "B b", "A a"]


def test_the_cpu_options_reach_a_member_on_the_cpu(monkeypatch):
    import torch

    from genomamba.classifiers.devices import use_cpu
    from genomamba.kernels import cpu_inference

    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.append(("threads", n)))
    monkeypatch.setattr(cpu_inference, "set_precision", lambda p: calls.append(("precision", p)))
    on_cpu = Fixed([0.5, 0.5], 0.5, 0.5)
    on_cpu.device = torch.device("cpu")
    calls = []
    use_cpu(cascade(Fixed([0.5, 0.5], 0.5, 0.5), on_cpu), 3, "bfloat16")   # only the second has a device
    assert calls == [("threads", 3), ("precision", "bfloat16")]


def test_members_with_other_species_are_a_config_error_naming_both():
    with pytest.raises(ConfigError, match=r"members m0 and m1 have different species.*'A a', 'B b'.*'A a', 'C c'"):
        cascade(Fixed([0.5, 0.5], 1, 0.5), Fixed([0.5, 0.5], 1, 0.5, species=["A a", "C c"]))
    with pytest.raises(ConfigError, match="at least two members"):
        cascade(Fixed([0.5, 0.5], 1, 0.5))


@pytest.mark.parametrize("params, message", [
    ({}, "members"), ({"members": ["a"]}, "at least two"), ({"members": ["a", "a"]}, "distinct"),
    ({"members": "a b"}, "members"), ({"members": ["a", ""]}, "members"),
    ({"members": ["a", "b"], "threshold": 0.5}, "unknown parameter"),
])
def test_bad_params_are_config_errors(params, message):
    with pytest.raises(ConfigError, match=message):
        resolve_params(params)


# ---- real members ------------------------------------------------------------------------------

def test_calls_are_the_first_members_where_it_is_confident_and_the_seconds_elsewhere(split, dirs):
    combined = CombinedClassifier.fit(split, {"members": [str(dirs["sourmash"]), str(dirs["kmer"])]}, 0, **QUIET)
    sourmash, kmer = load(dirs["sourmash"]), load(dirs["kmer"])
    assert combined.species == sourmash.species == split.species and combined.threshold == THRESHOLD
    decided_by = {"sourmash": 0, "kmer": 0, None: 0}
    for name, chunks in pieces(split):
        probs, confidence = combined.score(iter(chunks))
        call = decide(probs, confidence, combined.species, combined.threshold)
        first_call, first_probs, first_confidence = own_call(sourmash, chunks)
        if first_call != UNCLASSIFIED:
            decided_by["sourmash"] += 1
            assert call == first_call and np.array_equal(probs, first_probs), name
            assert confidence >= THRESHOLD
        else:
            second_call, second_probs, _ = own_call(kmer, chunks)
            decided_by["kmer" if second_call != UNCLASSIFIED else None] += 1
            assert call == second_call and np.array_equal(probs, second_probs), name
    # both branches ran: sourmash knows the training strains' own sequence, not the held-out strains'
    assert decided_by["sourmash"] >= 24 and decided_by["kmer"] >= 24, decided_by
    assert decided_by[None] >= 6, decided_by   # the human fragments: neither member calls them


def test_a_cascade_of_real_members_scores_many_fragments_as_it_scores_each(split, dirs):
    combined = cascade(load(dirs["kmer"]), load(dirs["mamba"]))
    records = [np.concatenate(chunks) for _, chunks in pieces(split, ("test",), fragment_length=1500)][:40]
    assert combined.batch_bases == 4096   # the Mamba member's scoring chunk
    many, each = combined.score_many(records), [combined.score([tokens]) for tokens in records]
    for (p, c), (q, d) in zip(many, each):
        assert np.allclose(p, q, atol=1e-5) and c == pytest.approx(d, abs=1e-5)


def test_save_load_round_trip_is_self_contained(split, dirs, tmp_path):
    (dirs["mamba"] / ".snakemake_timestamp").write_text("")   # what Snakemake leaves in a directory output
    combined = CombinedClassifier.fit(split, {"members": [str(dirs["sourmash"]), str(dirs["mamba"])]}, 0, **QUIET)
    combined.save(tmp_path / "built")
    config = json.loads((tmp_path / "built" / "config.json").read_text())
    assert config["kind"] == "combined" and config["threshold"] == THRESHOLD
    assert config["species"] == split.species
    assert json.loads((tmp_path / "built" / "labels.json").read_text()) == {"species": split.species}
    assert [(m["name"], m["kind"], m["path"]) for m in config["members"]] == [
        ("sourmash", "sourmash", "members/00-sourmash"), ("mamba", "mamba", "members/01-mamba")]
    for name, path in (("sourmash", "members/00-sourmash"), ("mamba", "members/01-mamba")):
        files = sorted(p.name for p in dirs[name].iterdir() if not p.name.startswith("."))
        assert sorted(p.name for p in (tmp_path / "built" / path).iterdir()) == files
        for file in files:   # copied unchanged
            assert (tmp_path / "built" / path / file).read_bytes() == (dirs[name] / file).read_bytes()

    shutil.move(tmp_path / "built", tmp_path / "shipped")   # one folder, wherever it goes
    loaded = load(tmp_path / "shipped")
    assert isinstance(loaded, CombinedClassifier) and loaded.species == split.species
    assert [type(m.classifier) for m in loaded.members] == [SourmashClassifier, MambaClassifier]
    assert all(m.path.parent == tmp_path / "shipped" / "members" for m in loaded.members)
    for _, chunks in pieces(split)[::5]:
        expected, got = combined.score(iter(chunks)), loaded.score(iter(chunks))
        assert np.allclose(expected[0], got[0]) and expected[1] == pytest.approx(got[1])
    loaded.save(tmp_path / "again")   # a loaded combined model saves its members again
    assert load(tmp_path / "again").species == split.species


def test_members_of_other_species_than_each_other_or_the_split(split, dirs, tmp_path):
    fewer = Split([r for r in split.rows if r.species != "Vibrio cholerae"])
    SourmashClassifier.fit(fewer, {"scaled": 200, "validation_windows_per_strain": 4}, seed=0,
                           **QUIET).save(tmp_path / "three")
    with pytest.raises(ConfigError) as err:
        CombinedClassifier.fit(split, {"members": [str(dirs["kmer"]), str(tmp_path / "three")]}, 0, **QUIET)
    assert str(dirs["kmer"]) in str(err.value) and str(tmp_path / "three") in str(err.value)
    assert "different species" in str(err.value)
    with pytest.raises(ConfigError, match="not the split's training species"):
        CombinedClassifier.fit(fewer, {"members": [str(dirs["kmer"]), str(dirs["sourmash"])]}, 0, **QUIET)


@pytest.fixture(scope="module")
def built(split, dirs, tmp_path_factory):
    path = tmp_path_factory.mktemp("combined") / "model"
    CombinedClassifier.fit(split, {"members": [str(dirs["sourmash"]), str(dirs["kmer"])]}, 0, **QUIET).save(path)
    return path


def damaged_copy(built, tmp_path, change):
    copy = shutil.copytree(built, tmp_path / "model")
    change(copy)
    return copy


def edit_config(change):
    def edit(model_dir):
        path = model_dir / "config.json"
        path.write_text(json.dumps(change(json.loads(path.read_text()))))
    return edit


@pytest.mark.parametrize("change, file, message", [
    (lambda d: shutil.rmtree(d / "members" / "01-kmer"), "members/01-kmer", "model directory not found"),
    (lambda d: (d / "labels.json").unlink(), "labels.json", "missing"),
    (edit_config(lambda c: {**c, "threshold": 0.7}), "config.json", "must be 0.5"),
    (edit_config(lambda c: {**c, "members": c["members"][:1]}), "config.json", "at least two"),
    (edit_config(lambda c: {**c, "members": [{**c["members"][0], "path": "../../elsewhere"}, c["members"][1]]}),
     "config.json", "under members/"),
    (edit_config(lambda c: {**c, "members": [{**c["members"][0], "kind": "kmer"}, c["members"][1]]}),
     "config.json", "is a 'sourmash' model"),
    (edit_config(lambda c: {**c, "species": c["species"][::-1]}), "labels.json", "differ from"),
])
def test_damaged_directories_are_input_errors_naming_the_file(built, tmp_path, change, file, message):
    copy = damaged_copy(built, tmp_path, change)
    with pytest.raises(InputError, match=message) as err:
        load(copy)
    assert Path(err.value.path) == copy / file


# ---- the command line --------------------------------------------------------------------------

def train(split_tsv, members, out):
    return main(["train", "--kind", "combined", "--split", str(split_tsv),
                 "--params", json.dumps({"members": [str(m) for m in members]}), "-o", str(out)])


def test_train_and_classify_on_the_command_line(split, dirs, tmp_path, capsys):
    split_tsv = Path(split.rows[0].store).parent / "split.tsv"
    members = [dirs["sourmash"], dirs["kmer"]]
    assert train(split_tsv, members, tmp_path / "combined") == 0
    assert train(split_tsv, members, tmp_path / "combined") == 0   # a rerun replaces its own output
    held_out = split.samples("test")
    out = tmp_path / "calls.tsv"
    code = main(["classify", "--model", str(tmp_path / "combined"), *(r.store for r in held_out),
                 "--fragment-length", "10000", "-o", str(out)])
    assert code == 0
    model = load(tmp_path / "combined")
    table = read_calls(out)
    rows = [(f"{Path(file).name.removesuffix('.zarr')}/{record}", call)
            for file, record, call in zip(table.file, table.record, table.call) if record != "*"]
    expected = [(name, decide(*model.score(iter(chunks)), model.species, model.threshold))
                for name, chunks in pieces(split, ("test",))]
    assert rows == expected
    capsys.readouterr()

    assert train(split_tsv, members, dirs["kmer"] / "inside") == 2   # never written into a member
    assert "is inside the input" in capsys.readouterr().err and not (dirs["kmer"] / "inside").exists()
    assert train(split_tsv, [dirs["sourmash"], tmp_path / "absent"], tmp_path / "other") == 2
    err = capsys.readouterr().err
    assert "absent: model directory not found" in err and "Traceback" not in err


# ---- the workflow ------------------------------------------------------------------------------

DEFAULT_CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def config_with(**models):
    config = json.loads(json.dumps(DEFAULT_CONFIG))
    config["models"].update(models)
    return config


def test_default_config_combines_sourmash_then_mamba():
    config = config_with()
    assert config["models"]["combined"] == {"kind": "combined", "params": {"members": ["sourmash", "mamba"]}}
    assert gw.member_dirs(config, "combined") == ["results/models/sourmash", "results/models/mamba"]
    assert json.loads(gw.train_params(config, "combined")) == {
        "members": ["results/models/sourmash", "results/models/mamba"]}
    assert gw.member_dirs(config, "kmer") == [] and json.loads(gw.train_params(config, "mamba")) == \
        config["models"]["mamba"]["params"]
    assert "combined" in gw.enabled_models(config)


@pytest.mark.parametrize("models, message", [
    ({"combined": {"kind": "combined", "params": {"members": ["sourmash", "nope"]}}},
     "models.combined.params.members: 'nope' is not an enabled entry"),
    ({"kmer": {"kind": "kmer", "enabled": False}, "combined": {"kind": "combined", "params": {"members": ["kmer", "mamba"]}}},
     "'kmer' is not an enabled entry"),
    ({"both": {"kind": "combined", "params": {"members": ["combined", "kmer"]}}},
     "models.both.params.members: 'combined' is a combined model itself"),
    ({"combined": {"kind": "combined", "params": {"members": ["sourmash"]}}}, "models.combined.params"),
])
def test_check_config_rejects_bad_members(models, message):
    with pytest.raises(ConfigError, match=message):
        gw.check_config(config_with(**models), REPO / "config" / "samples.tsv", base_dirs=[REPO],
                        warn=lambda _: None)


@pytest.mark.parametrize("overlays", [["bacteria.yaml"], ["bacteria.yaml", "bacteria_mamba.yaml"],
                                      ["apes.yaml"], ["apes.yaml", "apes_gpu.yaml"]])
def test_experiment_configs_keep_the_combined_models_members_enabled(overlays):
    config = config_with()
    for name in overlays:   # as --configfile layers them over config/config.yaml
        update_config(config, yaml.safe_load((REPO / "config" / "experiments" / name).read_text()))
    gw.check_members(config)


def test_default_workflow_trains_the_combined_model_from_its_members(tmp_path):
    done = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-p", "-s", str(REPO / "Snakefile"),
                           "--directory", str(tmp_path), "results/compare/combined/ELS37.tsv",
                           "results/metrics/combined.json"],
                          capture_output=True, text=True, timeout=120)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    job = out[out.index("output: results/models/combined"):]
    job = job[:job.index("\n\n")]
    assert "results/models/sourmash" in job and "results/models/mamba" in job
    assert "--kind combined" in job
    assert '{"members": ["results/models/sourmash", "results/models/mamba"]}' in job
    assert "results/models/kmer" not in job
