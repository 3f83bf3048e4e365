"""The models the advisor runs, taken from the registry and swapped when its alias moves."""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

import pyarrow as pa

from modax.advisory._advisor import Advisor
from modax.advisory._model import AdvisoryModel, check_detector
from modax.registry import LIVE_ALIAS, ModelError, ModelVersion, Registry
from modax.schema import TELEMETRY_SCHEMA

__all__ = ["LiveModels", "RemainingLife", "parse_model_ref"]

log = logging.getLogger("modax.advise")


class RemainingLife(Protocol):
    """A streaming remaining-life scorer (``modax.models.wear.RemainingLifeScorer``)."""

    features: list[str]

    def update(self, telemetry: pa.Table) -> pa.Table:
        """``remaining_life_estimates`` rows of the devices whose estimate was recomputed."""
        ...

    def warm_up(self) -> None:
        """Pay first-use costs (kernels, lazy imports) before live readings wait."""
        ...


def parse_model_ref(text: str) -> tuple[str, str]:
    """``NAME``, ``NAME@alias`` or ``NAME:version`` as ``(name, alias or version)``.

    Examples
    --------
    >>> parse_model_ref("ls"), parse_model_ref("ls@staging"), parse_model_ref("ls:3")
    (('ls', 'live'), ('ls', 'staging'), ('ls', '3'))
    """
    if "@" in text:
        name, ref = text.split("@", 1)
    elif ":" in text:
        name, ref = text.split(":", 1)
    else:
        name, ref = text, LIVE_ALIAS
    if not name or not ref:
        raise ModelError(f"model {text!r}: write NAME, NAME@alias or NAME:version")
    return name, ref


def _check_features(version: ModelVersion, features: list[str]) -> None:
    unknown = [f for f in features if f not in TELEMETRY_SCHEMA.names]
    if unknown:
        raise ModelError(f"model {version.label}: live telemetry has no column(s) {unknown}")


def load_anomaly(registry: Registry, name: str, ref: str) -> AdvisoryModel:
    """Registered anomaly model ``name`` at ``ref``, checked against live telemetry."""
    loaded = registry.load(name, ref, kind="anomaly")
    version = loaded.version
    features = list(loaded.metadata["features"])
    _check_features(version, features)
    detector = check_detector(loaded.estimator, features, f"model {version.label}")
    return AdvisoryModel(detector, {**loaded.metadata, "version": version.version})


def load_remaining_life(registry: Registry, name: str, ref: str) -> tuple[RemainingLife, str]:
    """Registered remaining-life model ``name`` at ``ref`` as a streaming scorer, its version.

    The scorer is warmed up (:meth:`~modax.models.wear.RemainingLifeScorer.warm_up`) on the
    loading thread: its first-use costs are paid before live readings wait for it, and a model
    that cannot score synthetic readings is refused here, not on a live batch.
    """
    from modax.models.wear import RemainingLifeScorer

    loaded = registry.load(name, ref, kind="remaining-life")
    version = loaded.version
    try:
        scorer = RemainingLifeScorer(loaded.estimator, name=name, version=version.version)
        scorer.warm_up()
    except Exception as exc:  # (whatever the model raises: it cannot score)
        raise ModelError(
            f"model {version.label}: cannot score live telemetry ({type(exc).__name__}: {exc})"
        ) from None
    _check_features(version, list(scorer.features))
    return scorer, version.version


class LiveModels:
    """The anomaly :class:`Advisor` and the remaining-life scorer of a live run.

    With a registry, :meth:`refresh` follows the references' aliases: when ``live`` points at
    another version it loads it and swaps it in between batches; when that version cannot be
    used, it keeps running the last good one and says so (a log line, :attr:`errors`,
    :attr:`last_error`). A reference pinned to a version (``NAME:3``) never moves.

    Parameters
    ----------
    advisor : Advisor
        Scores anomalies and publishes alerts.
    remaining_life : RemainingLife, optional
        Estimates remaining life (h) with an interval.
    registry : Registry, optional
        Where :meth:`refresh` looks for new versions.
    refs : dict, optional
        ``{"anomaly": (name, ref), "remaining-life": (name, ref)}`` followed by :meth:`refresh`.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from modax.models.anomaly import LevelShiftDetector
    >>> det = LevelShiftDetector(window=5).fit(np.random.default_rng(0).normal(4, 0.1, (99, 1)))
    >>> models = LiveModels(Advisor(AdvisoryModel(det, {"name": "ls", "features": ["current_1"]})))
    >>> models.describe()
    'anomaly ls'
    """

    def __init__(
        self,
        advisor: Advisor,
        remaining_life: RemainingLife | None = None,
        *,
        registry: Registry | None = None,
        refs: dict[str, tuple[str, str]] | None = None,
        versions: dict[str, str] | None = None,
    ) -> None:
        self.advisor = advisor
        self.remaining_life = remaining_life
        self.registry = registry
        self.refs = dict(refs or {})
        self.versions = dict(versions or {})
        self.errors = 0
        self.swaps = 0
        self.last_error = ""
        self._refused: dict[str, str] = {}
        self._loaded: dict[str, tuple[str, Any]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_registry(
        cls,
        registry: Registry,
        anomaly: str | None = None,
        remaining_life: str | None = None,
        *,
        context_rows: int = 300,
    ) -> LiveModels:
        """The models named by ``anomaly``/``remaining_life`` (``NAME[@alias|:version]``).

        Without a name, the model of that kind carrying the ``live`` alias is taken; a
        remaining-life model is optional, an anomaly model is not.

        Raises
        ------
        ModelError
            One line naming the model, the version and what is wrong.
        """
        refs: dict[str, tuple[str, str]] = {}
        for kind, text in (("anomaly", anomaly), ("remaining-life", remaining_life)):
            if text is not None:
                refs[kind] = parse_model_ref(text)
                continue
            live = registry.live(kind)
            if live is not None:
                refs[kind] = (live.name, LIVE_ALIAS)
            elif kind == "anomaly":
                raise ModelError(
                    f"no anomaly model has the alias {LIVE_ALIAS!r} in {registry.tracking_uri}: "
                    "modax models fit, then modax models promote NAME VERSION"
                )
        model = load_anomaly(registry, *refs["anomaly"])
        versions = {"anomaly": str(model.metadata["version"])}
        scorer = None
        if "remaining-life" in refs:
            scorer, versions["remaining-life"] = load_remaining_life(
                registry, *refs["remaining-life"]
            )
        return cls(
            Advisor(model, context_rows=context_rows),
            scorer,
            registry=registry,
            refs=refs,
            versions=versions,
        )

    def describe(self) -> str:
        """The models running, e.g. ``anomaly ls v3, remaining-life rul-sim v2``."""
        parts = []
        for kind in ("anomaly", "remaining-life"):
            if kind == "remaining-life" and self.remaining_life is None:
                continue
            name = self.refs[kind][0] if kind in self.refs else self.advisor.model.name
            version = self.versions.get(kind)
            parts.append(f"{kind} {name}" + (f" v{version}" if version else ""))
        return ", ".join(parts)

    def refresh(self) -> None:
        """Swap in the versions the registry's aliases point at now; never raises."""
        self.poll()
        self.apply()

    def poll(self) -> None:
        """Look up the aliases and load the versions that moved, without swapping them in.

        The slow half of :meth:`refresh` (registry queries, model files): ``modax advise run``
        calls it on a thread of its own, so the scoring thread only ever runs :meth:`apply`.
        Never raises.
        """
        if self.registry is None:
            return
        for kind, (name, ref) in self.refs.items():
            try:
                version = self.registry.version(name, ref).version
            except Exception as exc:  # (the registry is down or the alias gone)
                self._refuse(kind, f"{name}@{ref}", f"model {name}@{ref}: {exc}")
                continue
            with self._lock:
                known = version == self.versions.get(kind) or self._refused.get(kind) == version
                known = known or self._loaded.get(kind, ("", None))[0] == version
            if known:
                continue
            try:
                model = self._load(kind, name, version)
            except ModelError as exc:
                self._refuse(kind, version, str(exc))
                continue
            with self._lock:
                self._loaded[kind] = (version, model)

    def apply(self) -> None:
        """Swap in the versions :meth:`poll` loaded (between batches: it only swaps objects)."""
        with self._lock:
            loaded, self._loaded = self._loaded, {}
        for kind, (version, model) in loaded.items():
            if kind == "anomaly":
                self.advisor.replace_model(model)
            else:
                self.remaining_life = model
            old = self.versions.get(kind)
            with self._lock:
                self.versions[kind] = version
                self._refused.pop(kind, None)
            self.swaps += 1
            log.info(
                "advisor: now running %s %s v%s (was v%s)", kind, self.refs[kind][0], version, old
            )

    def _load(self, kind: str, name: str, version: str) -> Any:
        if self.registry is None:
            raise ModelError(f"model {name}:{version}: no registry to load it from")
        if kind == "anomaly":
            return load_anomaly(self.registry, name, version)
        return load_remaining_life(self.registry, name, version)[0]

    def _refuse(self, kind: str, version: str, message: str) -> None:
        with self._lock:
            self._refused[kind] = version
        self.errors += 1
        current = self.versions.get(kind)
        self.last_error = f"{message}; keeping {self.refs[kind][0]} v{current}"
        log.error("advisor: %s", self.last_error)

    def report_error(self, kind: str, message: str) -> None:
        """A model of ``kind`` failed on a batch: counted, and logged the first time in a row."""
        self.errors += 1
        if self.last_error != message:
            log.error(
                "advisor: %s model failed on a batch (%s); its output is skipped", kind, message
            )
        self.last_error = message
