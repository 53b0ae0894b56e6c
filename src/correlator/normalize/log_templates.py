"""Online log template mining: Drain3 behind one small class.

A :class:`LogTemplateMiner` turns each log message body into a :class:`TemplateMatch`: the id
of the template cluster it belongs to, the cluster's current template text (variables written
as ``<*>``) and whether the cluster was created by this message. Drain generalises a
cluster's template as more lines arrive (``connect to 10.0.0.1`` then ``connect to <*>``);
the ``template_id`` stays the same through that, so per-template rate series stay stable.

The miner's state round-trips through :meth:`LogTemplateMiner.to_bytes` and
:meth:`LogTemplateMiner.from_bytes`, for the state store.

>>> miner = LogTemplateMiner()
>>> first = miner.add("connected to 10.0.0.1 in 12 ms")
>>> first.is_new, first.template
(True, 'connected to <*> in <*> ms')
>>> second = miner.add("connected to 10.0.0.7 in 9 ms")
>>> second.template_id == first.template_id, second.is_new
(True, False)
>>> restored = LogTemplateMiner.from_bytes(miner.to_bytes())
>>> restored.add("connected to 10.0.0.9 in 3 ms").template_id == first.template_id
True
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Final

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.memory_buffer_persistence import MemoryBufferPersistence
from drain3.template_miner_config import TemplateMinerConfig
from pydantic import BaseModel, ConfigDict, Field

from correlator.errors import CorrelatorError
from correlator.normalize.log_drain import WordAwareDrain
from correlator.normalize.log_masks import DEFAULT_MASKS, LogMask
from correlator.normalize.log_template_text import PARAM, tidy_template

__all__ = [
    "LogTemplateConfig",
    "LogTemplateMiner",
    "LogTemplateStateError",
    "TemplateMatch",
]

_STATE_VERSION: Final = 1
_CACHE_SIZE: Final = 50_000


class LogTemplateStateError(CorrelatorError):
    """Saved miner state could not be restored (corrupt, or saved with another config)."""


class LogTemplateConfig(BaseModel):
    """The one template-mining configuration, used by the engine and the Loghub benchmark."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sim_threshold: float = Field(
        0.5, gt=0.0, le=1.0, description="Drain similarity a line needs to join a cluster."
    )
    depth: int = Field(
        4, ge=3, description="Drain prefix-tree depth (root and token-count levels included)."
    )
    max_children: int = Field(100, ge=2, description="Children per prefix-tree node.")
    max_clusters: int = Field(
        5000, ge=1, description="Clusters kept; the least recently matched is dropped first."
    )
    extra_delimiters: tuple[str, ...] = Field(
        (), description="Characters split like whitespace, besides whitespace itself."
    )
    split_plain_words: bool = Field(
        True, description="Never merge two different plain words into a variable."
    )
    masks: tuple[LogMask, ...] = Field(
        DEFAULT_MASKS, description="Generic variable shapes replaced before clustering."
    )

    def fingerprint(self) -> str:
        """Short hash of the configuration; saved state only restores under the same one."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class TemplateMatch:
    """Where one log message landed."""

    template_id: str
    template: str
    is_new: bool
    params: tuple[str, ...] | None = None


class LogTemplateMiner:
    """Streaming template miner (Drain3) with generic masks and byte persistence."""

    def __init__(
        self, config: LogTemplateConfig | None = None, *, cache_size: int = _CACHE_SIZE
    ) -> None:
        self.config = config or LogTemplateConfig()
        self.cache_size = cache_size
        self._miner = TemplateMiner(config=_drain3_config(self.config))
        if self.config.split_plain_words:
            self._miner.drain = _word_aware_drain(self._miner.drain)
        self._mask_token = re.compile(
            "|".join(re.escape(f"<{name}>") for name in {m.name for m in self.config.masks})
            or r"(?!)"
        )
        # Recency of clusters, oldest first: drain3's LRU order does not survive its
        # jsonpickle state, so it is kept here and replayed on restore.
        self._recency: dict[int, None] = {}
        self._public_cache: dict[str, str] = {}
        # Line text, raw and masked, to the cluster it joined (see ``add``).
        self._by_line: dict[str, int] = {}
        self._by_masked: dict[str, int] = {}

    @property
    def template_count(self) -> int:
        """Number of template clusters currently held."""
        return len(self._miner.drain.id_to_cluster)

    def add(self, message: str, *, with_params: bool = False) -> TemplateMatch:
        """Mine one message body; ``with_params`` also extracts the variable values.

        A line whose text (or masked text) was seen before goes back to the cluster it
        joined then, counted and touched as Drain would (an identical line leaves a
        template as it is), without masking and searching the prefix tree again.
        """
        cluster = self._cached_cluster(message)
        if cluster is None:
            masked = self._miner.masker.mask(message)
            cluster = self._cached_cluster(masked, self._by_masked)
            if cluster is None:
                return self._add_to_drain(message, masked, with_params)
            self._remember(self._by_line, message, cluster.cluster_id)
        cluster.size += 1
        self._touch(cluster.cluster_id)
        raw_template = cluster.get_template()
        return TemplateMatch(
            template_id=str(cluster.cluster_id),
            template=self._public_template(raw_template),
            is_new=False,
            params=self._params(raw_template, message) if with_params else None,
        )

    def _add_to_drain(self, message: str, masked: str, with_params: bool) -> TemplateMatch:
        cluster, change_type = self._miner.drain.add_log_message(masked)
        cluster_id = int(cluster.cluster_id)
        self._touch(cluster_id)
        self._remember(self._by_line, message, cluster_id)
        self._remember(self._by_masked, masked, cluster_id)
        raw_template = cluster.get_template()
        return TemplateMatch(
            template_id=str(cluster_id),
            template=self._public_template(raw_template),
            is_new=change_type == "cluster_created",
            params=self._params(raw_template, message) if with_params else None,
        )

    def _cached_cluster(self, text: str, cache: dict[str, int] | None = None) -> Any:
        """The live cluster ``text`` joined before, or None (also if since evicted)."""
        cluster_id = (self._by_line if cache is None else cache).get(text)
        if cluster_id is None:
            return None
        clusters = self._miner.drain.id_to_cluster
        if cluster_id not in clusters:
            return None
        return clusters[cluster_id]  # a read moves the cluster to most recent

    def _remember(self, cache: dict[str, int], text: str, cluster_id: int) -> None:
        if len(cache) >= self.cache_size:
            cache.clear()
        if self.cache_size:
            cache[text] = cluster_id

    def templates(self) -> dict[str, str]:
        """Current template text per template id."""
        return {
            str(cluster.cluster_id): self._public_template(cluster.get_template())
            for cluster in self._miner.drain.clusters
        }

    def to_bytes(self) -> bytes:
        """Serialise the miner's state (clusters, prefix tree, id counter, recency)."""
        buffer = MemoryBufferPersistence()
        self._miner.persistence_handler = buffer
        try:
            self._miner.save_state("snapshot")
        finally:
            self._miner.persistence_handler = None
        live = self._miner.drain.id_to_cluster
        envelope = {
            "version": _STATE_VERSION,
            "config": self.config.fingerprint(),
            "drain3": base64.b64encode(buffer.state).decode("ascii"),
            "recency": [cid for cid in self._recency if cid in live],
        }
        return json.dumps(envelope, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes, config: LogTemplateConfig | None = None) -> LogTemplateMiner:
        """Rebuild a miner saved by :meth:`to_bytes` under the same configuration."""
        miner = cls(config)
        try:
            envelope = json.loads(data)
            version, saved_config = envelope["version"], envelope["config"]
            state = base64.b64decode(envelope["drain3"], validate=True)
            recency = [int(cid) for cid in envelope["recency"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise LogTemplateStateError(
                "saved log-template state is not readable; drop it and start a fresh miner"
            ) from exc
        if version != _STATE_VERSION or saved_config != miner.config.fingerprint():
            raise LogTemplateStateError(
                f"saved log-template state has version {version} and config {saved_config}, "
                f"this miner expects {_STATE_VERSION} and {miner.config.fingerprint()}; "
                "restore with the configuration it was saved under, or start a fresh miner"
            )
        miner._load(state, recency)
        return miner

    def _load(self, state: bytes, recency: list[int]) -> None:
        buffer = MemoryBufferPersistence()
        buffer.state = state
        self._miner.persistence_handler = buffer
        try:
            self._miner.load_state()
        except Exception as exc:  # jsonpickle/zlib raise many types on bad input
            raise LogTemplateStateError(
                "saved log-template state is corrupt; drop it and start a fresh miner"
            ) from exc
        finally:
            self._miner.persistence_handler = None
        clusters = self._miner.drain.id_to_cluster
        for cluster_id in recency:
            if cluster_id in clusters:
                _ = clusters[cluster_id]  # a read moves the cluster to most recent
                self._recency[cluster_id] = None

    def _touch(self, cluster_id: int) -> None:
        self._recency.pop(cluster_id, None)
        self._recency[cluster_id] = None
        if len(self._recency) > 2 * self.config.max_clusters:
            live = self._miner.drain.id_to_cluster
            self._recency = {cid: None for cid in self._recency if cid in live}

    def _public_template(self, raw_template: str) -> str:
        public = self._public_cache.get(raw_template)
        if public is None:
            if len(self._public_cache) >= 2 * self.config.max_clusters:
                self._public_cache.clear()
            public = tidy_template(self._mask_token.sub(PARAM, raw_template))
            self._public_cache[raw_template] = public
        return public

    def _params(self, raw_template: str, message: str) -> tuple[str, ...]:
        extracted = self._miner.extract_parameters(raw_template, message, exact_matching=False)
        return tuple(p.value for p in extracted or ())


def _drain3_config(config: LogTemplateConfig) -> TemplateMinerConfig:
    drain3_config = TemplateMinerConfig()
    drain3_config.drain_sim_th = config.sim_threshold
    drain3_config.drain_depth = config.depth
    drain3_config.drain_max_children = config.max_children
    drain3_config.drain_max_clusters = config.max_clusters
    drain3_config.drain_extra_delimiters = list(config.extra_delimiters)
    drain3_config.masking_instructions = [
        MaskingInstruction(mask.pattern, mask.name) for mask in config.masks
    ]
    drain3_config.mask_prefix = "<"
    drain3_config.mask_suffix = ">"
    drain3_config.snapshot_compress_state = True
    drain3_config.parametrize_numeric_tokens = True
    return drain3_config


def _word_aware_drain(drain: Any) -> WordAwareDrain:
    return WordAwareDrain(
        depth=drain.log_cluster_depth,
        sim_th=drain.sim_th,
        max_children=drain.max_children,
        max_clusters=drain.max_clusters,
        extra_delimiters=drain.extra_delimiters,
        profiler=drain.profiler,
        param_str=drain.param_str,
        parametrize_numeric_tokens=drain.parametrize_numeric_tokens,
    )
