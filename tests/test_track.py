"""The species track, its segmentation, the chimera generator and the `genomamba track` and
`genomamba simulate-chimeras` commands, on the embedded slices and on synthetic probability tracks."""

import csv

import numpy as np
import pytest

from genomamba.alphabet import reverse_complement
from genomamba.calls import UNCLASSIFIED, decide
from genomamba.chimeras import (ChimeraParams, Source, breakpoints, read_truth, simulate_chimeras,
                                write_truth)
from genomamba.classifiers.kmer import KmerClassifier
from genomamba.classifiers.mamba import MambaClassifier
from genomamba.cli import main
from genomamba.errors import InputError
from genomamba.report_track import contamination_section
from genomamba.segment import SegmentParams, flag_records, refine_changes, segment_track, viterbi
from genomamba.track import Track, read_track_table, track_record, window_bounds

from test_classify_support import LAYOUT, QUIET, TINY_MAMBA, build_split, genome_path, genome_tokens

SPECIES = ["A a", "B b", "C c"]
HOST, DONORS = ("Staphylococcus aureus", "RF122"), [("Helicobacter pylori", "ELS37"),
                                                   ("Klebsiella pneumoniae", "NTUH-K2044")]


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    return build_split(tmp_path_factory.mktemp("stores"), LAYOUT)


@pytest.fixture(scope="module")
def kmer_dir(split, tmp_path_factory):
    directory = tmp_path_factory.mktemp("kmer") / "model"
    KmerClassifier.fit(split, {"windows_per_strain": 60, "validation_windows_per_strain": 30},
                       seed=1, **QUIET).save(directory)
    return directory


# -- synthetic tracks: segmentation ------------------------------------------------------------------------
def synthetic_track(calls, window=10_000, confidence=0.95, seed=0, name="r"):
    """A track whose window i has probability ``confidence`` on species ``calls[i]`` (-1: no species
    called, confidence 0), the rest spread with noise."""
    rng = np.random.default_rng(seed)
    n = len(calls)
    probs = rng.dirichlet(np.ones(len(SPECIES)), size=n) * (1 - confidence)
    conf = np.zeros(n)
    for i, c in enumerate(calls):
        if c >= 0:
            probs[i, c] += confidence
            conf[i] = probs[i].max()
        else:
            probs[i] = rng.dirichlet(np.ones(len(SPECIES)))
    starts, ends = window_bounds(n * window, window)
    return Track(name, starts, ends, probs, conf)


def test_viterbi_pays_the_penalty_only_for_support():
    loglik = np.log(np.array([[0.9, 0.1]] * 5 + [[0.1, 0.9]] * 5))
    assert list(viterbi(loglik, 1.0)) == [0] * 5 + [1] * 5
    gain = 5 * (np.log(0.9) - np.log(0.1))  # what switching for the last five windows gains
    assert list(viterbi(loglik, gain + 0.01)) == [0] * 10 or list(viterbi(loglik, gain + 0.01)) == [1] * 10
    # a lone window of another species inside a segment costs two switches
    lone = np.log(np.array([[0.9, 0.1]] * 4 + [[0.01, 0.99]] + [[0.9, 0.1]] * 4))
    assert set(viterbi(lone, 5.0)) == {0} and list(viterbi(lone, 1.0)).count(1) == 1


def test_segmentation_finds_a_planted_change_point_and_none_in_a_constant_track():
    threshold = 0.5
    constant = synthetic_track([0] * 30)
    segments = segment_track(constant, SPECIES, threshold)
    assert [(s.start, s.end, s.call, s.confident) for s in segments] == [(0, 300_000, "A a", True)]
    planted = synthetic_track([0] * 12 + [2] * 9, seed=1)
    segments = segment_track(planted, SPECIES, threshold)
    assert [(s.start, s.end, s.call) for s in segments] == [(0, 120_000, "A a"), (120_000, 210_000, "C c")]
    assert all(s.confident and s.confidence > 0.9 for s in segments)
    assert flag_records({"r": segments}, {"r": 210_000})[0].flag == "chimeric"


def test_segmentation_ignores_isolated_noisy_windows_and_finds_unknown_dna():
    noisy = [0] * 20
    noisy[5], noisy[13] = 1, 2  # single windows called another species
    segments = segment_track(synthetic_track(noisy, seed=2), SPECIES, 0.5)
    assert [s.call for s in segments] == ["A a"]
    # a few windows that no species claims (confidence 0) inside a segment of A do not break it; a long
    # run of them is an unclassified segment
    few = segment_track(synthetic_track([0] * 10 + [-1] * 5 + [0] * 10, seed=3), SPECIES, 0.5)
    assert [(s.call, s.start, s.end, s.confident) for s in few] == [("A a", 0, 250_000, True)]
    track = synthetic_track([0] * 10 + [-1] * 40 + [0] * 10, seed=3)
    segments = segment_track(track, SPECIES, 0.5)
    assert [(s.call, s.start, s.end) for s in segments] == [("A a", 0, 100_000), (UNCLASSIFIED, 100_000, 500_000),
                                                            ("A a", 500_000, 600_000)]
    assert [s.confident for s in segments] == [True, False, True]
    assert flag_records({"r": segments}, {"r": 600_000})[0].flag == "clean"
    # a higher penalty merges runs that a lower one keeps apart
    short = synthetic_track([0] * 10 + [1] * 2 + [0] * 10, seed=4)
    assert len(segment_track(short, SPECIES, 0.5, SegmentParams(switch_penalty=2))) == 3
    assert len(segment_track(short, SPECIES, 0.5, SegmentParams(switch_penalty=40))) == 1
    assert not segment_track(short, SPECIES, 0.5, SegmentParams(switch_penalty=2, min_segment=30_000))[1].confident


def test_flags_contaminant_records_and_mixed_assemblies():
    tracks = {"main1": synthetic_track([0] * 20, name="main1"), "main2": synthetic_track([0] * 8, name="main2"),
              "other": synthetic_track([1] * 3, name="other"), "unknown": synthetic_track([-1] * 5, name="unknown")}
    segments = {name: segment_track(t, SPECIES, 0.5) for name, t in tracks.items()}
    flags = flag_records(segments, {name: t.length for name, t in tracks.items()})
    assert [(f.record, f.call, f.flag) for f in flags] == [
        ("main1", "A a", "clean"), ("main2", "A a", "clean"), ("other", "B b", "contaminant"),
        ("unknown", UNCLASSIFIED, "clean"), ("*", "A a", "mixed")]
    clean = flag_records({k: segments[k] for k in ("main1", "main2")}, {"main1": 1, "main2": 1})
    assert clean[-1].flag == "clean" and clean[-1].species == ["A a"]


# -- the chimera generator ---------------------------------------------------------------------------------
def sources():
    host = Source.read(HOST[0], genome_path(*HOST))
    return host, [Source.read(s, genome_path(s, strain)) for s, strain in DONORS]


def test_chimeras_are_seeded_and_their_truth_table_is_exact(tmp_path):
    host, donors = sources()
    params = ChimeraParams(chimeras=6, pieces=3, piece_min=5000, piece_max=30000, contaminants=5,
                           contaminant_min=2000, contaminant_max=20000, host_pieces=3)
    records, truth = simulate_chimeras(host, donors, params, seed=7)
    again = simulate_chimeras(host, donors, params, seed=7)
    assert [n for n, _ in records] == [n for n, _ in again[0]] and truth == again[1]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(records, again[0]))
    assert simulate_chimeras(host, donors, params, seed=8)[1] != truth

    by_name = dict(records)
    by_source = {s.path: s for s in (host, *donors)}
    assert [p.record for p in truth if p.kind == "host"] == host.names + ["host0", "host1", "host2"]
    for piece in truth:
        source = by_source[piece.source]
        original = source.sequences[source.names.index(piece.source_record)][piece.source_start:piece.source_end]
        expected = original if piece.strand == "+" else reverse_complement(original)
        assert np.array_equal(by_name[piece.record][piece.start:piece.end], expected)
        assert piece.species == source.species
        if piece.kind == "chimera":
            assert 5000 <= piece.end - piece.start <= 30000
        if piece.kind == "contaminant":
            assert 2000 <= piece.end - piece.start <= 20000 and piece.species != HOST[0]
    for i in range(6):  # pieces tile their record, alternating host and donor
        pieces = [p for p in truth if p.record == f"chimera{i}"]
        assert pieces[0].start == 0 and pieces[-1].end == len(by_name[f"chimera{i}"])
        species = [p.species for p in pieces]
        assert all(a != b for a, b in zip(species, species[1:])) and HOST[0] in species
    assert len(breakpoints(truth)) == 6 * 2
    write_truth(tmp_path / "truth.tsv", truth)
    assert read_truth(tmp_path / "truth.tsv") == truth


def test_chimera_generator_refuses_bad_requests():
    host, donors = sources()
    with pytest.raises(InputError, match="at least 2 pieces"):
        simulate_chimeras(host, donors, ChimeraParams(pieces=1), seed=0)
    with pytest.raises(InputError, match="0 < min <= max"):
        simulate_chimeras(host, donors, ChimeraParams(piece_min=50, piece_max=10), seed=0)
    with pytest.raises(InputError, match="host's species"):
        simulate_chimeras(host, [host], ChimeraParams(), seed=0)


# -- tracks of real models ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_mambas(split):
    """A tiny Mamba without and with the reverse-complement option (a few training steps: the tests
    below check the track's arithmetic, not its accuracy)."""
    return (MambaClassifier.fit(split, TINY_MAMBA, seed=1, **QUIET),
            MambaClassifier.fit(split, {**TINY_MAMBA, "rc_equivariant": True}, seed=1, **QUIET))


def test_streamed_track_matches_the_record_call_and_not_the_chunking(tiny_mambas):
    model = tiny_mambas[0]
    tokens = genome_tokens(*HOST)[:5000]
    one = track_record(model, "r", [tokens], window=8000)  # shorter than a window: the record's own call
    probs, confidence = model.score([tokens])
    assert len(one.starts) == 1 and (one.starts[0], one.ends[0]) == (0, 5000)
    assert np.allclose(one.probs[0], probs, atol=1e-5) and one.confidence[0] == pytest.approx(confidence, abs=1e-5)
    whole = track_record(model, "r", [tokens], window=1000)
    pieces = track_record(model, "r", np.array_split(tokens, [7, 1000, 1001, 2999, 4095]), window=1000)
    assert list(whole.ends) == [1000, 2000, 3000, 4000, 5000]
    assert np.allclose(whole.probs, pieces.probs, atol=1e-5)
    # a window's summary is the mean hidden state at its bases in one pass over the whole record
    import torch
    with torch.inference_mode():
        hidden = model.model.feed(torch.as_tensor(tokens, dtype=torch.long)[None], model.model.new_state(1))[0]
        expected = model.model.probabilities(hidden[3000:4000].mean(0, keepdim=True))[0, :len(model.species)]
    assert np.allclose(whole.probs[3], expected, atol=1e-6)


def test_streamed_track_applies_the_markov_check_to_each_window(tiny_mambas):
    model = tiny_mambas[0]
    check = model.markov_check
    assert check is not None and check.min_length <= 10_000
    noise = np.random.default_rng(5).integers(0, 4, 20_000).astype(np.uint8)
    tokens = np.concatenate([genome_tokens(*HOST)[:20_000], noise])
    track = track_record(model, "r", np.array_split(tokens, 7), window=10_000)
    verdicts = [check.accepts([tokens[a:b]]) for a, b in zip(track.starts, track.ends)]
    assert verdicts[2:] == [False, False]   # uniform random DNA is no species
    model.markov_check = None
    try:
        unchecked = track_record(model, "r", [tokens], window=10_000)
    finally:
        model.markov_check = check
    assert np.allclose(track.probs, unchecked.probs, atol=1e-6)
    assert np.allclose(track.confidence, np.where(verdicts, unchecked.confidence, 0.0), atol=1e-6)
    assert track.confidence[2:].max() == 0.0 and unchecked.confidence[2:].min() > 0.0


def test_rc_track_of_the_reverse_complement_is_the_reversed_track(tiny_mambas):
    model = tiny_mambas[1]
    tokens = genome_tokens(*HOST)[:3000]
    forward = track_record(model, "r", [tokens], window=1000)
    reverse = track_record(model, "r", [reverse_complement(tokens)], window=1000)
    assert np.allclose(forward.probs, reverse.probs[::-1], atol=1e-5)
    assert np.allclose(forward.confidence, reverse.confidence[::-1], atol=1e-5)


def test_window_scored_kinds_score_each_window_on_its_own(kmer_dir):
    from genomamba.classifiers import load

    model = load(kmer_dir)
    tokens = genome_tokens(*HOST)[:25000]
    track = track_record(model, "r", [tokens[:3], tokens[3:]], window=10000)
    assert list(track.starts) == [0, 10000, 20000] and list(track.ends) == [10000, 20000, 25000]
    for i, (a, b) in enumerate(zip(track.starts, track.ends)):
        probs, confidence = model.score([tokens[a:b]])
        assert np.allclose(track.probs[i], probs) and track.confidence[i] == confidence


# -- the commands ------------------------------------------------------------------------------------------
def read_tsv(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh, delimiter="\t"))


def test_track_command_on_a_synthetic_contaminated_assembly(kmer_dir, tmp_path):
    fasta, truth_path = tmp_path / "sim.fa", tmp_path / "truth.tsv"
    argv = ["simulate-chimeras", "--host", f"{HOST[0]}={genome_path(*HOST)}", "-o", str(fasta),
            "--truth", str(truth_path), "--seed", "5", "--chimeras", "2", "--piece-min", "25000",
            "--piece-max", "40000", "--contaminants", "2", "--contaminant-min", "20000",
            "--contaminant-max", "40000"]
    for species, strain in DONORS:
        argv += ["--donor", f"{species}={genome_path(species, strain)}"]
    assert main(argv) == 0
    first = fasta.read_bytes()
    assert main(argv) == 0 and fasta.read_bytes() == first  # the same seed, the same assembly
    truth = read_truth(truth_path)

    out = tmp_path / "out"
    assert main(["track", "--model", str(kmer_dir), str(fasta), "-o", str(out / "sim.track.tsv"), "--window",
                 "5000", "--bedgraph-dir", str(out / "bedgraph"), "--segments", str(out / "sim.segments.tsv"),
                 "--flags", str(out / "sim.flags.tsv")]) == 0
    tracks, species = read_track_table(out / "sim.track.tsv")
    from genomamba.classifiers import load
    model = load(kmer_dir)
    assert species == model.species
    lengths = {p.record: p.end for p in truth}
    assert {t.record: t.length for t in tracks} == lengths
    rows = read_tsv(out / "sim.track.tsv")[1:]
    for t in tracks:  # windows tile the record; each row's call follows from its numbers
        assert t.starts[0] == 0 and np.array_equal(t.starts[1:], t.ends[:-1])
        assert np.all(t.probs >= 0) and np.all(t.probs.sum(1) <= 1 + 1e-5)
    assert all(r[3] == decide([float(x) for x in r[5:]], float(r[4]), species, model.threshold) for r in rows)
    for j, s in enumerate(species):
        lines = (out / "bedgraph" / f"{s.replace(' ', '_')}.bedgraph").read_text().splitlines()
        assert lines[0].startswith("track type=bedGraph") and len(lines) == len(rows) + 1
        assert [line.split("\t")[:3] for line in lines[1:]] == [r[:3] for r in rows]
        assert np.allclose([float(line.split("\t")[3]) for line in lines[1:]], [float(r[5 + j]) for r in rows],
                           atol=1e-5)

    flags = {r[0]: r for r in read_tsv(out / "sim.flags.tsv")[1:]}
    assert flags["*"][2:4] == [HOST[0], "mixed"]
    for piece in truth:
        if piece.kind == "host":
            assert flags[piece.record][3] == "clean"
        if piece.kind == "contaminant":
            assert flags[piece.record][3] == "contaminant" and flags[piece.record][2] == piece.species
    for i in range(2):
        assert flags[f"chimera{i}"][3].startswith("chimeric")
    segments = read_tsv(out / "sim.segments.tsv")
    assert segments[0] == ["record", "start", "end", "call", "confidence", "windows", "confident"]
    for record, position, _, _ in breakpoints(truth):  # each join found to within a window
        cuts = [int(r[1]) for r in segments[1:] if r[0] == record and int(r[1]) > 0]
        assert cuts and min(abs(c - position) for c in cuts) <= 5000

    # the report's section: the assembly's row, and one track plot per flagged record
    html, skipped = contamination_section([out / "sim.flags.tsv"])
    assert "<td>sim</td><td>Staphylococcus aureus</td><td>mixed</td>" in html and not skipped
    flagged = [r for r, f in flags.items() if r != "*" and f[3] != "clean"]
    assert html.count("<svg") == len(flagged) == 4


@pytest.mark.parametrize("extra, message", [
    (["--window", "0"], "--window must be > 0"),
    (["--switch-penalty", "-1"], "switch penalty must be >= 0"),
    (["--segments", "SAME"], "must be different paths"),
])
def test_track_command_bad_options_are_clear_errors(kmer_dir, tmp_path, capsys, extra, message):
    output = tmp_path / "track.tsv"
    extra = [str(output) if x == "SAME" else x for x in extra]
    assert main(["track", "--model", str(kmer_dir), str(genome_path(*HOST)), "-o", str(output), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not output.exists()


def test_track_command_bad_inputs_name_the_file(kmer_dir, tmp_path, capsys):
    bad = tmp_path / "bad.fa"
    bad.write_text(">ok\nACGT\n>ok\nACGT\n")  # a duplicate record name
    for argv, where in ((["track", "--model", str(kmer_dir), str(tmp_path / "missing.fa")], "missing.fa"),
                        (["track", "--model", str(tmp_path / "nomodel"), str(genome_path(*HOST))], "nomodel"),
                        (["track", "--model", str(kmer_dir), str(bad)], "bad.fa")):
        assert main([*argv, "-o", str(tmp_path / "t.tsv")]) == 2
        err = capsys.readouterr().err
        assert where in err and "error" in err and "Traceback" not in err
    assert not (tmp_path / "t.tsv").exists()


def test_simulate_chimeras_bad_arguments_are_clear_errors(tmp_path, capsys):
    host = f"{HOST[0]}={genome_path(*HOST)}"
    cases = [(["--host", "no-equals-sign"], "takes SPECIES=PATH"),
             (["--host", f"X={tmp_path / 'missing.fa'}"], "missing.fa"),
             (["--host", host, "--chimeras", "-1"], ">= 0"),
             (["--host", host, "--donor", host], "host's species")]
    for extra, message in cases:
        argv = ["simulate-chimeras", "--donor", f"Vibrio cholerae={genome_path('Vibrio cholerae', 'O395')}",
                "-o", str(tmp_path / "a.fa"), "--truth", str(tmp_path / "t.tsv"), "--seed", "1", *extra]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert not (tmp_path / "a.fa").exists()


def test_read_track_table_names_the_bad_line(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("record\tstart\tend\tcall\tconfidence\tp_A\nr\t0\t10\tA\t0.9\t0.9\nr\t10\tx\tA\t0.9\t0.9\n")
    with pytest.raises(InputError, match=r"line 3.*record 'r'.*not a number"):
        read_track_table(path)
    (tmp_path / "empty.tsv").write_text("")
    with pytest.raises(InputError, match="not a track table"):
        read_track_table(tmp_path / "empty.tsv")


def test_a_change_across_uncalled_windows_lies_in_their_middle():
    track = synthetic_track([0] * 8 + [-1] * 4 + [1] * 8, seed=5)
    segments = segment_track(track, SPECIES, 0.5)
    assert [(s.call, s.start, s.end) for s in segments] == [("A a", 0, 100_000), ("B b", 100_000, 200_000)]


def test_refinement_moves_a_change_to_the_join_between_windows():
    # species A is the base A (token 0), species B the base C (token 1): a join at 23_456
    tokens = np.r_[np.zeros(23_456, np.uint8), np.ones(36_544, np.uint8)]

    def score(piece):
        b = float(np.mean(piece == 1)) if len(piece) else 0.5
        return np.array([1 - b, b, 0.0]), max(b, 1 - b)

    starts, ends = window_bounds(60_000, 10_000)
    probs = np.array([score(tokens[a:e])[0] for a, e in zip(starts, ends)])
    track = Track("r", starts, ends, probs, probs.max(1))
    segments = segment_track(track, SPECIES, 0.5)
    assert [(s.call, s.end) for s in segments[:1]] == [("A a", 20_000)]  # window 20-30 kb leans to B
    refined = refine_changes(segments, tokens, score, SPECIES, 10_000, step=100)
    assert [(s.start, s.end, s.call) for s in refined] == [(0, 23_500, "A a"), (23_500, 60_000, "B b")]
    # hard 0/1 probabilities tie over many positions: the middle of them
    hard = refine_changes(segments, tokens, lambda p: (np.round(score(p)[0]), 1.0), SPECIES, 10_000, step=1000)
    assert abs(hard[0].end - 23_456) <= 2_500
