"""Store and load a fitted classifier without pickle, and refuse a file that was altered.

The model is one .npz file of plain numeric arrays, read with allow_pickle=False, so loading it
can never run code, whoever wrote the file. Strings (vocabularies, metadata) are stored as UTF-8
bytes in uint8 arrays. The metadata carries a sha256 over every other array; a file whose arrays
do not match it (edited, truncated, written by another version) is refused with
ModelIntegrityError, and load_classifier then retrains from the corpus.

Writes go to a temporary file in the same folder, are fsynced and renamed over the old model, so
a crash mid-write leaves the previous model, never half of a new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from classifiers.features import FeatureSpace
from classifiers.model import MODEL_FORMAT, ModelParams

MODEL_FILE = "model.npz"


class ModelIntegrityError(Exception):
    """A stored model is unreadable, altered or of another format; it must not be used."""


def default_model_dir() -> Path:
    """$INBOX_BOT_MODEL_DIR, else ~/.cache/inbox-bot/model."""
    env = os.environ.get("INBOX_BOT_MODEL_DIR")
    return Path(env) if env else Path.home() / ".cache" / "inbox-bot" / "model"


def _text_array(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _array_text(array: np.ndarray) -> str:
    return array.astype(np.uint8).tobytes().decode("utf-8")


def _arrays(params: ModelParams) -> dict[str, np.ndarray]:
    fs = params.features
    # Vocabulary terms never hold "\n": tokens are \w+ runs joined by single spaces.
    return {
        "word_vocab": _text_array("\n".join(fs.word_vocab)),
        "word_idf": np.asarray(fs.word_idf, dtype=np.float32),
        "fold_vocab": _text_array("\n".join(fs.fold_vocab)),
        "fold_idf": np.asarray(fs.fold_idf, dtype=np.float32),
        "char_buckets": np.asarray(fs.char_buckets, dtype=np.int64),
        "char_idf": np.asarray(fs.char_idf, dtype=np.float32),
        "cite_vocab": _text_array("\n".join(fs.cite_vocab)),
        "cite_idf": np.asarray(fs.cite_idf, dtype=np.float32),
        "coef": np.asarray(params.coef, dtype=np.float32),
        "intercept": np.asarray(params.intercept, dtype=np.float64),
        "calib_a": np.asarray(params.calib_a, dtype=np.float64),
        "calib_b": np.asarray(params.calib_b, dtype=np.float64),
        "thresholds": np.asarray(params.thresholds, dtype=np.float64),
    }


def _digest(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape}\n".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def save_model(params: ModelParams, model_dir: str | Path | None = None) -> Path:
    """Write the model atomically into model_dir; returns the file's path."""
    folder = Path(model_dir) if model_dir is not None else default_model_dir()
    folder.mkdir(parents=True, exist_ok=True)
    arrays = _arrays(params)
    meta = {
        "format": MODEL_FORMAT,
        "labels": list(params.labels),
        "triage_threshold": float(params.triage_threshold),
        "corpus_hash": params.corpus_hash,
        "version": params.version,
        "meta": params.meta,
    }
    meta["digest"] = _digest(arrays) + ":" + hashlib.sha256(
        json.dumps({k: v for k, v in meta.items()}, sort_keys=True).encode()
    ).hexdigest()
    target = folder / MODEL_FILE
    handle = tempfile.NamedTemporaryFile(dir=folder, prefix=".model-", suffix=".npz", delete=False)
    try:
        with handle:
            np.savez(handle, meta=_text_array(json.dumps(meta, sort_keys=True)), **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return target


def load_model(model_dir: str | Path | None = None) -> ModelParams:
    """Read and verify a stored model; FileNotFoundError when there is none.

    Raises ModelIntegrityError for anything altered, truncated or of another format.
    """
    folder = Path(model_dir) if model_dir is not None else default_model_dir()
    path = folder / MODEL_FILE
    if not path.exists():
        raise FileNotFoundError(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            loaded = {name: data[name] for name in data.files}
        if not all(isinstance(value, np.ndarray) for value in loaded.values()):
            raise ValueError("a member is not a numpy array")
        meta = json.loads(_array_text(loaded.pop("meta")))
    except (ValueError, OSError, zipfile.BadZipFile, KeyError, UnicodeDecodeError, EOFError) as exc:
        raise ModelIntegrityError(f"{path}: unreadable model file ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        raise ModelIntegrityError(f"{path}: model format {meta.get('format')!r}, expected {MODEL_FORMAT}")
    stored = meta.pop("digest", "")
    expected = _digest(loaded) + ":" + hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()
    if stored != expected:
        raise ModelIntegrityError(f"{path}: content does not match its digest; refusing it")
    try:
        features = FeatureSpace(
            word_vocab=_array_text(loaded["word_vocab"]).split("\n") if loaded["word_vocab"].size else [],
            word_idf=loaded["word_idf"],
            fold_vocab=_array_text(loaded["fold_vocab"]).split("\n") if loaded["fold_vocab"].size else [],
            fold_idf=loaded["fold_idf"],
            char_buckets=loaded["char_buckets"],
            char_idf=loaded["char_idf"],
            cite_vocab=_array_text(loaded["cite_vocab"]).split("\n") if loaded["cite_vocab"].size else [],
            cite_idf=loaded["cite_idf"],
        )
        params = ModelParams(
            labels=tuple(meta["labels"]),
            features=features,
            coef=loaded["coef"],
            intercept=loaded["intercept"],
            calib_a=loaded["calib_a"],
            calib_b=loaded["calib_b"],
            thresholds=loaded["thresholds"],
            triage_threshold=float(meta["triage_threshold"]),
            corpus_hash=str(meta["corpus_hash"]),
            meta=dict(meta.get("meta") or {}),
        )
    except (KeyError, IndexError, ValueError) as exc:
        raise ModelIntegrityError(f"{path}: incomplete model ({exc})") from None
    n = params.features.n_features
    if params.coef.shape != (len(params.labels), n) or len(params.features.word_vocab) != params.features.word_idf.shape[0]:
        raise ModelIntegrityError(f"{path}: array shapes do not fit together")
    return params
