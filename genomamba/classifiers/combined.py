"""A cascade of trained models (kind ``combined``): the first member's call where that member is
confident, otherwise the next member's, and so on; ``unclassified`` where none is.

Built for "sourmash where it is confident, the Mamba model elsewhere": sourmash is almost never wrong
when it calls, but abstains on the few percent of held-out strains' fragments that share too few
31-mers with the training strains; a composition model calls those.

Params: ``members``, a list of at least two distinct model directories (in the workflow's config:
names of other models of the config, which genomamba/workflow.py turns into their directories), in
the order they are asked. Every member must have the same species list, in the same order.

Confidence and threshold. Member m has its own threshold t_m and confidence c_m in [0, 1], and is
confident when c_m >= t_m and c_m > 0 (the rule of genomamba.calls.decide). The combined model's
threshold is always 0.5, and a member's confidence reaches it through the monotone map that sends
t_m to 0.5:

    g_m(c) = 0.5 + 0.5 (c - t_m) / (1 - t_m)   where m is confident (1 if t_m = 1), in [0.5, 1]
    g_m(c) = 0.5 c / t_m                          otherwise (0 if t_m = 0), in [0, 0.5)

A record's score is the first confident member's probabilities with g_m(c_m): called, and called
what that member calls. Where no member is confident it is the last member's probabilities with its
g(c) (below 0.5, 0 where that member saw no evidence: unclassified). Members after the deciding one
are not run, so the Mamba model only scores what sourmash abstains on. The combined confidence keeps
each member's order but is not a probability: calibration measured on it (genomamba.evaluate) says
little. Probabilities are the deciding member's as it reports them (they sum to less than 1 where
that member has a "no species" class).

Built by ``genomamba train --kind combined --params '{"members": [DIR, ...]}' --split SPLIT -o DIR``
(``fit``: it trains nothing; the split's training species must be the members' species). Building it
through ``train`` keeps the workflow's one train rule and the one classifier interface, where a
separate command would need a rule and an interface of its own.

Storage, self-contained so that it ships as one folder: ``config.json`` (kind, species, threshold,
and per member its name, kind and directory), ``labels.json`` ({"species": [...]}, as in a neural
model) and every member's directory copied unchanged to ``members/NN-NAME/`` (NN its place in the
cascade, NAME the name of the directory it was built from), hidden files (Snakemake's timestamp
marker, temporary outputs) left out.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, InputError
from ..modelfiles import DAMAGED, entry, read_json
from .base import Classifier
from .params import check_known, require

THRESHOLD = 0.5
MEMBERS = "members"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def resolve_params(params: dict) -> dict:
    """``{"members": [at least two distinct non-empty strings]}``; anything else is a ConfigError."""
    check_known(params, ("members",))
    members = params.get("members")
    require(isinstance(members, list) and len(members) >= 2 and all(isinstance(m, str) and m for m in members)
            and len(set(members)) == len(members), "members",
            "a list of at least two distinct models (model directories; in the workflow's config, names "
            "of its models)", members)
    return {"members": list(members)}


def confident(confidence: float, threshold: float) -> bool:
    """Whether a model calls at this confidence (genomamba.calls.decide's rule)."""
    return confidence > 0 and confidence >= threshold


def on_combined_scale(confidence: float, threshold: float) -> float:
    """A member's confidence mapped so that its threshold lands on THRESHOLD (the module docstring)."""
    if confident(confidence, threshold):
        if threshold >= 1:
            return 1.0
        return THRESHOLD + (1 - THRESHOLD) * (confidence - threshold) / (1 - threshold)
    if threshold <= 0:
        return 0.0
    # c < t, so this is below THRESHOLD, but c / t may round up to 1
    return min(THRESHOLD * confidence / threshold, float(np.nextafter(THRESHOLD, 0)))


@dataclass
class Member:
    name: str
    classifier: Classifier
    path: Path | None = None  # the directory it was loaded from, copied by ``save``

    def __str__(self):
        return str(self.path) if self.path is not None else self.name


def check_same_species(members: list[Member]) -> list[str]:
    """The members' common species list; a ConfigError naming two members that differ."""
    first = members[0]
    for member in members[1:]:
        if member.classifier.species != first.classifier.species:
            raise ConfigError(f"members {first} and {member} have different species: "
                              f"{first}: {first.classifier.species}; {member}: {member.classifier.species}")
    return list(first.classifier.species)


class CombinedClassifier(Classifier):
    kind = "combined"

    def __init__(self, members: list[Member]):
        if len(members) < 2:
            raise ConfigError(f"a combined model needs at least two members, got {len(members)}")
        self.members = list(members)
        self.species = check_same_species(self.members)
        self.threshold = THRESHOLD

    def to(self, device) -> "CombinedClassifier":
        """Score on ``device`` (``genomamba classify --device``): passed to the members that have a device."""
        for member in self.members:
            if hasattr(member.classifier, "to"):
                member.classifier.to(device)
        return self

    def score(self, chunks):
        # one pass over the stream; copies, since a reader may reuse its buffers
        chunks = [np.array(chunk, dtype=np.uint8) for chunk in chunks]
        for member in self.members:
            probs, confidence = member.classifier.score(iter(chunks))
            if confident(confidence, member.classifier.threshold):
                break
        return probs, on_combined_scale(confidence, member.classifier.threshold)

    @property
    def batch_bases(self) -> int:
        return max(member.classifier.batch_bases for member in self.members)

    def score_many(self, records):
        """``score`` of each record: each member scores, as a batch, the records no member before
        it was confident of."""
        results, todo = [None] * len(records), list(range(len(records)))
        for member in self.members:
            threshold = member.classifier.threshold
            scored = member.classifier.score_many([np.asarray(records[i], np.uint8) for i in todo])
            for i, (probs, confidence) in zip(todo, scored):
                results[i] = probs, on_combined_scale(confidence, threshold)
            todo = [i for i, (_, confidence) in zip(todo, scored) if not confident(confidence, threshold)]
            if not todo:
                break
        return results

    @classmethod
    def fit(cls, split, params, seed, log=print):
        """Load the member directories of ``params`` (nothing is trained; ``seed`` is unused) and check
        that their species are the split's training species."""
        from . import load as load_model

        members = []
        for directory in resolve_params(params)["members"]:
            directory = Path(directory)
            members.append(Member(member_name(directory), load_model(directory), directory))
            log(f"combined: member {len(members) - 1}: {directory} ({members[-1].classifier.kind}, "
                f"threshold {members[-1].classifier.threshold:.4g})")
        combined = cls(members)
        if combined.species != list(split.species):
            raise ConfigError(f"the members' species {combined.species} are not the split's training "
                              f"species {list(split.species)}")
        return combined

    def save(self, model_dir):
        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        entries = []
        for index, member in enumerate(self.members):
            relative = f"{MEMBERS}/{index:02d}-{member.name}"
            if member.path is None:
                member.classifier.save(model_dir / relative)
            elif not (member.path / "config.json").is_file():
                raise InputError("member model directory is gone (no config.json)", member.path)
            else:
                shutil.copytree(member.path, model_dir / relative, ignore=shutil.ignore_patterns(".*"))
            entries.append({"name": member.name, "kind": member.classifier.kind, "path": relative})
        config = {"kind": self.kind, "species": self.species, "threshold": self.threshold,
                  "members": entries,
                  "confidence": "the first confident member's, rescaled so that its threshold is 0.5; "
                                "see genomamba/classifiers/combined.py"}
        (model_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        (model_dir / "labels.json").write_text(json.dumps({"species": self.species}, indent=2) + "\n")

    @classmethod
    def load(cls, model_dir):
        """Read what ``save`` wrote; a missing, damaged or inconsistent file is an InputError naming it."""
        from . import load as load_model

        model_dir = Path(model_dir)
        config_path, labels_path = model_dir / "config.json", model_dir / "labels.json"
        config = read_json(config_path)
        species = entry(config, "species", config_path, "a list of distinct names")
        if entry(config, "threshold", config_path) != THRESHOLD:
            raise InputError(f"'threshold' must be {THRESHOLD} (the scale members' confidences are mapped "
                             f"to), not {config['threshold']}", config_path)
        labels = entry(read_json(labels_path), "species", labels_path, "a list of distinct names")
        if labels != species:
            raise InputError(f"species {labels} differ from config.json's {species} ({DAMAGED})", labels_path)
        listed = config.get(MEMBERS)
        if not isinstance(listed, list) or len(listed) < 2:
            raise InputError(f"{MEMBERS!r} must be a list of at least two members", config_path)
        members = []
        for item in listed:
            path = item.get("path") if isinstance(item, dict) else None
            if not (isinstance(path, str) and re.fullmatch(rf"{MEMBERS}/[A-Za-z0-9][A-Za-z0-9._-]*", path)
                    and isinstance(item.get("name"), str)):
                raise InputError(f"each of {MEMBERS!r} must name a member (name) and its folder under "
                                 f"{MEMBERS}/ (path), found {json.dumps(item)[:80]}", config_path)
            classifier = load_model(model_dir / path)
            if classifier.kind != item.get("kind"):
                raise InputError(f"member {item['name']!r} is a {classifier.kind!r} model, config.json says "
                                 f"{item.get('kind')!r} ({DAMAGED})", config_path)
            if classifier.species != species:
                raise InputError(f"member {item['name']!r} has species {classifier.species}, config.json "
                                 f"{species} ({DAMAGED})", model_dir / path / "config.json")
            members.append(Member(item["name"], classifier, model_dir / path))
        return cls(members)


def member_name(directory: Path) -> str:
    """A member's name: the name of its directory, in characters safe for a folder name."""
    return _UNSAFE_NAME.sub("_", directory.resolve().name) or "model"


CLASSIFIER = CombinedClassifier
