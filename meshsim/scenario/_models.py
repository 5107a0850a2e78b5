"""The scenario file (docs/scenario.md) as frozen pydantic models."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple

from pydantic import Field, ValidationInfo, WithJsonSchema, field_validator, model_validator

from meshsim.meshes import PRESET_NAMES, PROXY_NAMES, SUPPORTED_FORMATS, preset
from meshsim.scenario._client import ClientSpec
from meshsim.scenario._policies import ServicePolicySpec
from meshsim.scenario._rollout import Rollout
from meshsim.scenario._slo import SloSpec
from meshsim.scenario._types import MAX_SEED, Bandwidth, DistSpec, Duration, ErrorRate, Rate, Ratio, Size, Strict

__all__ = [
    "Scenario",
    "Service",
    "ServiceVersion",
    "CallSpec",
    "CallStep",
    "ParallelSpec",
    "Workload",
    "Stage",
    "Network",
    "Link",
    "Mesh",
    "Fault",
    "Autoscaling",
    "ImportSpec",
    "MESH_PRESETS",
    "PROXIES",
]

#: ``mesh.defaults`` names, ``mesh.proxy`` names and ``mesh.import`` formats: the mesh registry's.
MESH_PRESETS = PRESET_NAMES
PROXIES = PROXY_NAMES

if TYPE_CHECKING:
    MeshName = str
    ProxyName = str
    ImportFormat = str
else:  # Literal over the registry's names, so the JSON Schema and the errors list them
    MeshName = Literal[PRESET_NAMES]
    ProxyName = Literal[PROXY_NAMES]
    ImportFormat = Literal[SUPPORTED_FORMATS]


class CallSpec(Strict):
    """One downstream call: ``{to: cart, probability: 0.5, optional: true}``."""

    to: str
    probability: float = Field(default=1.0, ge=0, le=1)
    optional: bool = False
    count: int = Field(default=1, ge=1, le=1000, description="calls made in sequence at this step")

    @model_validator(mode="before")
    @classmethod
    def _name_shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"to": data}
        return data


class ParallelSpec(Strict):
    """Calls made at the same time; the step ends when all have answered."""

    parallel: list[CallSpec] = Field(min_length=1)


class CallStep(NamedTuple):
    """One step of a service's calls: the calls made at once (a single call for a sequential step)."""

    parallel: bool
    calls: tuple[CallSpec, ...]


def _parse_step(item: Any) -> Any:
    if isinstance(item, dict) and "parallel" in item:
        return ParallelSpec.model_validate(item)
    return CallSpec.model_validate(item)


class Autoscaling(Strict):
    """Kubernetes HPA semantics for one service."""

    target_utilization: Ratio = 0.7
    min_replicas: int = Field(default=1, ge=1)
    max_replicas: int = Field(default=10, ge=1)
    sync_period: Duration = 15.0
    scale_down_stabilization: Duration = 300.0
    startup_delay: Duration = 30.0
    tolerance: float = Field(default=0.1, ge=0)


class ServiceFields(Strict):
    """Fields a version may override."""

    placement: dict[str, int] | None = None
    replicas: int | None = Field(default=None, ge=0)
    concurrency: int | None = Field(default=None, ge=1, le=1_000_000)
    queue_limit: int | None = Field(default=None, ge=0)
    holds_worker_during_calls: bool | None = None
    service_time: DistSpec | None = None
    error_rate: ErrorRate | None = Field(
        default=None, description="a ratio of HTTP 500s, or ratios per status code such as {503: 0.3}"
    )
    refuse_rate: Ratio | None = Field(
        default=None, description="share of connection attempts the replicas refuse (partial connection failure)"
    )
    request_size: Size | None = None
    response_size: Size | None = None
    calls: list[CallSpec | ParallelSpec] | None = None
    cancel_on_timeout: bool | None = None
    contention: Duration | None = Field(
        default=None,
        description="service time added per request already in progress on the replica "
        "(lock or CPU contention), as in Brooker's collapse model: 1 s + 10 ms x concurrency",
    )
    discipline: Literal["fifo", "processor_sharing", "priority"] | None = Field(
        default=None,
        description="fifo (default): each of concurrency workers does one request's work at full speed; "
        "processor_sharing: the requests working share the replica's cores, each at min(1, cores/n) of a core; "
        "priority: a free worker takes the waiting request of the highest workload priority (FIFO within one)",
    )
    cores: float | None = Field(
        default=None,
        gt=0,
        le=10_000,
        description="CPU cores a processor_sharing replica's working requests share (default 1)",
    )

    @field_validator("calls", mode="before")
    @classmethod
    def _steps(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [_parse_step(i) for i in v]
        return v

    @field_validator("placement")
    @classmethod
    def _counts(cls, v: dict[str, int] | None) -> dict[str, int] | None:
        if v is not None and any(n < 0 for n in v.values()):
            raise ValueError("replica counts cannot be negative")
        return v


class ServiceVersion(ServiceFields):
    """A subset (``v2``) of a service; every field overrides the service's."""


class Service(ServiceFields):
    """A service: where its replicas run, how it serves, and whom it calls."""

    versions: dict[str, ServiceVersion] = Field(default_factory=dict)
    autoscaling: Autoscaling | None = None


class Link(Strict):
    """An explicit path between two locations, overriding the relation defaults."""

    between: list[str] = Field(min_length=2, max_length=2)
    latency: DistSpec | None = None
    bandwidth: Bandwidth | None = None
    loss: Ratio = 0.0
    egress_cost_per_gb: float | None = Field(default=None, ge=0, le=1e9)


class Network(Strict):
    """One-way latency by the relation of two locations (docs/scenario.md ``network``)."""

    same_zone: DistSpec = Field(default_factory=lambda: DistSpec.model_validate("0.1ms"))
    cross_zone: DistSpec = Field(
        default_factory=lambda: DistSpec.model_validate({"dist": "lognormal", "median": "0.6ms", "p99": "2ms"})
    )
    cross_region: DistSpec | None = None
    cross_cloud: DistSpec | None = None
    links: list[Link] = Field(default_factory=list)
    use_region_table: bool = True


class ImportSpec(Strict):
    """Policies from a real mesh's configuration files."""

    format: ImportFormat
    path: str


class Mesh(Strict):
    """The data plane and the control plane's behaviour."""

    proxy: ProxyName | None = None
    defaults: MeshName | None = None
    version: Annotated[str, WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number"}]})] | None = Field(
        default=None, description="the release of the mesh.defaults preset, e.g. '3' or '2' for traefik"
    )
    proxy_overhead: DistSpec | None = None
    mtls: bool = True
    discovery_delay: Duration = 5.0
    connect_timeout: Duration | None = None
    import_: list[ImportSpec] = Field(default_factory=list, alias="import")

    model_config = Strict.model_config | {"populate_by_name": True}

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        # ``version: 3`` and ``version: 3.7`` in YAML are numbers; a release is read as text
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @field_validator("version")
    @classmethod
    def _known_release(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            preset(info.data.get("defaults"), value)  # a ValueError names the known releases
        return value


class ProfileStep(Strict):
    """From ``at`` on, the workload runs at ``rate``."""

    at: Duration
    rate: Rate


class Stage(Strict):
    """A k6-style ramp of a closed workload: over ``duration``, users go linearly to ``target``."""

    duration: Duration
    target: int = Field(ge=0, le=1_000_000)


class Workload(Strict):
    """Traffic entering the mesh at one service: open (``rate``) or closed (``users``).

    An open workload's requests arrive at ``rate`` whatever happens to the earlier ones.
    A closed one is ``users`` end users who each send a request, wait for its answer (with
    the client's own timeout and retries), think for ``think_time`` and send the next
    (k6 virtual users, Locust users); ``stages`` ramp their number like k6's ramping-vus.
    """

    name: str
    entry: str
    origin: str | None = None
    rate: Rate | None = None
    arrival: Literal["poisson", "constant"] = "poisson"
    profile: list[ProfileStep] = Field(default_factory=list)
    users: int | None = Field(default=None, ge=0, le=1_000_000, description="end users of a closed workload")
    think_time: DistSpec | None = Field(
        default=None, description="a closed workload's pause between an answer and the user's next request (default 0)"
    )
    stages: list[Stage] = Field(
        default_factory=list, description="ramps of a closed workload's users, one after another from the start"
    )
    priority: int = Field(
        default=0,
        ge=-1_000_000,
        le=1_000_000,
        description="its requests' class, carried to every downstream call: services with discipline: priority "
        "serve higher values first",
    )
    client: ClientSpec = Field(default_factory=ClientSpec)

    @field_validator("rate")
    @classmethod
    def _positive(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError("rate must be above zero (e.g. 100/s)")
        return v

    @field_validator("profile")
    @classmethod
    def _profile_rates(cls, v: list[ProfileStep]) -> list[ProfileStep]:
        for step in v:
            if step.rate < 0:
                raise ValueError("profile rates cannot be negative")
        return v

    @model_validator(mode="after")
    def _open_or_closed(self) -> Workload:
        if (self.rate is None) == (self.users is None):
            raise ValueError(
                "give either rate (open arrivals, e.g. rate: 100/s) or users (a closed population, "
                "e.g. users: 50 with think_time: 1s), not both"
                if self.rate is not None
                else "give either rate (open arrivals, e.g. rate: 100/s) or users (a closed population, e.g. users: 50)"
            )
        if self.users is None and (self.think_time is not None or self.stages):
            raise ValueError("think_time and stages belong to a closed workload (users: N), not to one with a rate")
        if self.users is not None and (self.profile or "arrival" in self.model_fields_set):
            raise ValueError("profile and arrival belong to an open workload (rate); ramp users with stages")
        for i, stage in enumerate(self.stages):
            if stage.duration <= 0:
                raise ValueError(f"stages.{i}.duration must be above zero")
        return self

    @property
    def closed(self) -> bool:
        """Whether this is a closed population (``users``) rather than open arrivals (``rate``)."""
        return self.users is not None

    def user_steps(self) -> list[tuple[float, float]]:
        """(time s, users) corners of the closed population's ramp, from 0; held after the last."""
        users = float(self.users or 0)
        out = [(0.0, users)]
        t = 0.0
        for stage in self.stages:
            t += stage.duration
            out.append((t, float(stage.target)))
        return out


FaultKind = Literal["latency", "errors", "refuse", "outage", "crash", "partition", "degrade", "load"]


#: Seconds a crashed replica stays down when the fault gives neither ``restart`` nor
#: ``duration`` (an assumption: a pod restart with image already pulled; see docs/scenario.md).
DEFAULT_RESTART_S = 30.0


class Fault(Strict):
    """A fault on the timeline (docs/scenario.md ``faults``)."""

    at: Duration
    duration: Duration | None = None
    kind: FaultKind
    target: str | None = None
    between: list[str] | None = Field(default=None, min_length=2, max_length=2)
    add: DistSpec | None = None
    rate: ErrorRate | None = Field(
        default=None,
        description="errors: extra errors, a ratio of HTTP 500s or ratios per status code; "
        "refuse: the share of connection attempts refused",
    )
    instances: int | None = Field(default=None, ge=1)
    restart: Duration | None = None
    factor: float | None = Field(default=None, gt=0, le=1e6)
    location: str | None = Field(
        default=None, description="outage/crash of a service: only its replicas in this zone, region or cloud"
    )

    @model_validator(mode="after")
    def _needs(self) -> Fault:
        need = {
            "latency": ["add"],
            "errors": ["target", "rate"],
            "refuse": ["target", "rate"],
            "outage": ["target"],
            "crash": ["target"],
            "partition": ["between"],
            "degrade": ["target", "factor"],
            "load": ["factor"],
        }[self.kind]
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.kind} fault needs {', '.join(missing)}")
        if self.kind == "refuse" and isinstance(self.rate, dict):
            raise ValueError("a refuse fault's rate is one share of connection attempts, not ratios per status code")
        if self.kind == "latency" and self.target is None and self.between is None:
            raise ValueError("a latency fault needs a target (service, version or location) or between")
        if self.location is not None and self.kind not in ("outage", "crash"):
            raise ValueError(
                "location narrows an outage or a crash of a service to one place; "
                f"for a {self.kind} fault give the location as the target"
            )
        return self

    def length_s(self) -> float | None:
        """How long the fault lasts, seconds (a crash until restart); None: until the run ends."""
        if self.kind == "crash":
            if self.restart is not None:
                return self.restart
            return self.duration if self.duration is not None else DEFAULT_RESTART_S
        return self.duration


class Scenario(Strict):
    """A whole scenario file. Times are float seconds once loaded."""

    name: str
    seed: int = Field(default=1, ge=0, le=MAX_SEED)
    duration: Duration = 60.0
    warmup: Duration = 0.0
    locations: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    network: Network = Field(default_factory=Network)
    mesh: Mesh = Field(default_factory=Mesh)
    services: dict[str, Service] = Field(min_length=1)
    policies: dict[str, ServicePolicySpec] = Field(default_factory=dict)
    workload: list[Workload] = Field(min_length=1)
    faults: list[Fault] = Field(default_factory=list)
    rollout: Rollout | None = None
    slos: list[SloSpec] = Field(default_factory=list)
    source_file: str | None = Field(default=None, exclude=True)
    import_origins: dict[str, str] = Field(default_factory=dict, exclude=True)
    import_warnings: list[str] = Field(default_factory=list, exclude=True)

    @field_validator("locations")
    @classmethod
    def _location_names(cls, v: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
        # Locations are addressed as cloud/region/zone: a name holding "/" could not be told apart.
        for cloud, regions in v.items():
            for name in [cloud, *regions, *(z for zones in regions.values() for z in zones)]:
                if not name or "/" in name or name != name.strip():
                    raise ValueError(
                        f"location name {name!r} must be non-empty, without '/' or surrounding spaces "
                        "(places are written cloud/region/zone)"
                    )
        return v

    @field_validator("duration")
    @classmethod
    def _positive_duration(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("duration must be above zero (e.g. 60s)")
        return v

    def to_dict(self) -> dict[str, Any]:
        """The scenario as plain data in the file's own syntax (loads back to the same scenario)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def zones(self) -> list[str]:
        """Every zone as ``cloud/region/zone``, in file order."""
        return [
            f"{cloud}/{region}/{zone}"
            for cloud, regions in self.locations.items()
            for region, zones in regions.items()
            for zone in zones
        ]

    def call_steps(self, service: str, version: str | None = None) -> list[CallStep]:
        """The steps a request to ``service`` (``version``) makes, in order.

        A version that sets ``calls`` replaces the service's list; otherwise it inherits it.
        """
        svc = self.services[service]
        ver = svc.versions.get(version) if version is not None else None
        steps = ver.calls if ver is not None and ver.calls is not None else svc.calls
        return [
            CallStep(True, tuple(step.parallel)) if isinstance(step, ParallelSpec) else CallStep(False, (step,))
            for step in steps or []
        ]

    def written_calls(self, service: str) -> Iterator[tuple[tuple[str | int, ...], CallSpec]]:
        """Every call written under ``service`` and its versions, with its field path in the file.

        The path (``("services", "cart", "calls", 1, "parallel", 0)``) locates errors; callers
        that only need the call graph ignore it.
        """
        svc = self.services[service]
        variants: list[tuple[tuple[str | int, ...], ServiceFields]] = [(("services", service), svc)]
        variants += [(("services", service, "versions", v), ver) for v, ver in svc.versions.items()]
        for base, fields in variants:
            for i, step in enumerate(fields.calls or []):
                if isinstance(step, ParallelSpec):
                    for j, call in enumerate(step.parallel):
                        yield (*base, "calls", i, "parallel", j), call
                else:
                    yield (*base, "calls", i), step

    def expected_requests(self) -> float:
        """Requests the workloads will offer over warm-up plus duration (for the size guard)."""
        horizon = self.warmup + self.duration
        total = 0.0
        for w in self.workload:
            if w.rate is None:
                # closed: a user sends at most one request per think time plus the entry's own work
                users = max(n for _, n in w.user_steps())
                entry = self.services.get(w.entry)
                work = entry.service_time.build().mean() if entry is not None and entry.service_time else 0.0
                think = w.think_time.build().mean() if w.think_time is not None else 0.0
                total += users * horizon / max(think + work, 1e-3)
                continue
            rate, t, acc = w.rate, 0.0, 0.0
            for step in sorted(w.profile, key=lambda s: s.at):
                end = min(step.at, horizon)
                if end > t:
                    acc += rate * (end - t)
                    t = end
                rate = step.rate
            acc += rate * max(0.0, horizon - t)
            total += acc
        return total
