"""Helpers shared by the classifier tests: stores and a split built from the embedded slices.

Every test module that trains builds its own stores under its tmp_path (tokenizing 16 slices of
120 kb takes about a second); nothing here reads the shared development data (../shared).
"""

from pathlib import Path

from genomamba.classifiers.kmer import KmerClassifier
from genomamba.io import read_records
from genomamba.split import Split, SplitRow
from genomamba.store import SequenceStore, StoreWriter

GENOMES = Path(__file__).resolve().parent.parent / "resources" / "genomes"

# (species, strain, split): two training strains, one validation and one test strain per species,
# and the human slice as the out-of-distribution test sample
LAYOUT = [
    ("Helicobacter pylori", "G27", "train"), ("Helicobacter pylori", "Gambia94_24", "train"),
    ("Helicobacter pylori", "Puno120", "validation"), ("Helicobacter pylori", "ELS37", "test"),
    ("Staphylococcus aureus", "COL", "train"), ("Staphylococcus aureus", "JKD6008", "train"),
    ("Staphylococcus aureus", "N315", "validation"), ("Staphylococcus aureus", "RF122", "test"),
    ("Klebsiella pneumoniae", "Kp1084", "train"), ("Klebsiella pneumoniae", "MGH78578", "train"),
    ("Klebsiella pneumoniae", "HS11286", "validation"), ("Klebsiella pneumoniae", "NTUH-K2044", "test"),
    ("Vibrio cholerae", "O1_Inaba", "train"), ("Vibrio cholerae", "O395", "train"),
    ("Vibrio cholerae", "O1_biovar_eltor_N16961", "validation"),
]
HUMAN = ("Homo sapiens", "chr22_slice", "test")


# training calls without log lines, and a tiny Mamba that trains in seconds (for tests of what
# scoring does with a model, not of what it learns)
QUIET = {"log": lambda *_: None}
TINY_MAMBA = {"d_model": 8, "n_layers": 1, "d_state": 4, "window": 64, "chunk_size": 32, "steps": 4,
              "batch_size": 4, "eval_windows": 4, "log_every": 0, "score_chunk": 4096, "device": "cpu"}


def genome_path(species: str, strain: str) -> Path:
    return GENOMES / species.replace(" ", "_") / f"{strain}.fa.gz"


def genome_tokens(species: str, strain: str, record: int = 0):
    """The tokens of one record of an embedded genome."""
    from genomamba.chimeras import Source
    return Source.read(species, genome_path(species, strain)).sequences[record]


def write_store(source: Path, store_path: Path, species: str, strain: str) -> Path:
    writer = StoreWriter(store_path)
    for record in read_records(source):
        writer.begin(record.name)
        for tokens, mask in record.chunks():
            writer.append(tokens, mask)
        writer.end()
    writer.close(species=species, strain=strain)
    return store_path


def build_split(directory: Path, layout=LAYOUT + [HUMAN]) -> Split:
    """Stores for every sample of ``layout`` under ``directory`` and the Split naming them."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for species, strain, split in layout:
        store = write_store(genome_path(species, strain), directory / f"{strain}.zarr", species, strain)
        rows.append(SplitRow(strain, species, strain, split, str(store)))
    split = Split(rows)
    split.write(directory / "split.tsv")
    return split


def fit_small_kmer(directory: Path):
    """A small k-mer model on build_split's stores, saved to directory/model: (split, model)."""
    split = build_split(directory / "stores")
    model = KmerClassifier.fit(split, {"windows_per_strain": 60, "validation_windows_per_strain": 30},
                               seed=1, log=lambda *_: None)
    model.save(directory / "model")
    return split, model


def test_build_split_writes_readable_stores(tmp_path):
    split = build_split(tmp_path, [LAYOUT[0], HUMAN])
    assert Split.read(tmp_path / "split.tsv") == split
    store = SequenceStore.open(split.rows[0].store)
    assert len(store) == 3 and list(store.lengths) == [40000] * 3
