"""The deployment files run what the system needs: every process, every topic, durably.

docker-compose.yml, deploy/k8s and the Procfile are read as plain files and held against
the registered services (`konkurs.services` entry points: their processes, ports and
topics) and the platform's settings (partitions): a service, process or topic added to the
code but not to a deployment fails here, not in a cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from konkurs_ops.cli import procfile
from konkurs_ops.stack import system_topics
from konkurs_platform.settings import Settings
from konkurs_platform.spec import discover

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
COMPOSE = ROOT / "docker-compose.yml"
IMAGE = "konkurs:0.1.0"
# In a container an API must listen on every interface: its default, 127.0.0.1, cannot be
# reached from outside the container.
ALL_INTERFACES = ("--host", "0.0.0.0")
CONSUMERS = {"worker", "projector"}

Doc = dict[str, Any]
Command = tuple[str, ...]


def _load_all(path: Path) -> list[Doc]:
    with path.open(encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


SPECS = discover()
# Every long-running process of every registered service, as `konkurs` runs it.
PROCESSES: dict[str, Command] = {
    name: ("konkurs", *arguments) for spec in SPECS for name, arguments in spec.processes()
}
PORTS = {spec.name: spec.port for spec in SPECS}


def test_the_procfile_is_generated_from_the_registered_services() -> None:
    """Regenerate it with `konkurs services --procfile > Procfile`."""
    assert (ROOT / "Procfile").read_text(encoding="utf-8") == procfile(SPECS)


def test_the_services_registered_are_the_service_folders() -> None:
    """A service folder without a registration would never be run (nor would the reverse)."""
    declared = (ROOT / "services").glob("*/konkurs_*/spec.py")
    # The platform's spec.py is the form itself, not a service.
    folders = {p.parent.parent.name for p in declared} - {"platform"}
    assert folders == {spec.name for spec in SPECS}


def _as_in_procfile(command: list[str]) -> Command:
    """`command` without the listen address that only a container needs."""
    if command[1] == "api":
        assert tuple(command[-2:]) == ALL_INTERFACES, command
        return tuple(command[:-2])
    return tuple(command)


@pytest.fixture(scope="module")
def kustomization() -> Doc:
    (doc,) = _load_all(K8S / "kustomization.yaml")
    return doc


@pytest.fixture(scope="module")
def manifests(kustomization: Doc) -> list[Doc]:
    return [d for name in kustomization["resources"] for d in _load_all(K8S / name)]


@pytest.fixture(scope="module")
def config(kustomization: Doc) -> dict[str, str]:
    """The environment every container gets, from the kustomization's ConfigMap."""
    (generator,) = kustomization["configMapGenerator"]
    assert generator["name"] == "konkurs-config"
    return dict(literal.split("=", 1) for literal in generator["literals"])


@pytest.fixture(scope="module")
def compose() -> Doc:
    (doc,) = _load_all(COMPOSE)
    return doc


def _of_kind(manifests: list[Doc], kind: str) -> list[Doc]:
    return [d for d in manifests if d["kind"] == kind]


def _containers(manifests: list[Doc]) -> Iterator[tuple[Doc, Doc]]:
    for d in manifests:
        if d["kind"] in ("Deployment", "Job"):
            for c in d["spec"]["template"]["spec"]["containers"]:
                yield d, c


def _deployments(manifests: list[Doc]) -> dict[str, tuple[Command, Doc]]:
    """Each Deployment by name, with the process it runs as the Procfile writes it."""
    found: dict[str, tuple[Command, Doc]] = {}
    for d in _of_kind(manifests, "Deployment"):
        (container,) = d["spec"]["template"]["spec"]["containers"]
        found[d["metadata"]["name"]] = (_as_in_procfile(container["command"]), d)
    return found


# Kubernetes


def test_every_manifest_names_its_api_version_kind_and_name() -> None:
    for path in sorted(K8S.glob("*.yaml")):
        for doc in _load_all(path):
            assert doc.get("apiVersion"), path
            assert doc.get("kind"), path
            if doc["kind"] != "Kustomization":
                assert doc.get("metadata", {}).get("name"), (path, doc["kind"])


def test_kustomization_lists_every_manifest_file(kustomization: Doc) -> None:
    on_disk = {p.name for p in K8S.iterdir() if p.suffix in (".yaml", ".yml")}
    assert sorted(kustomization["resources"]) == sorted(on_disk - {"kustomization.yaml"})


def test_every_topic_the_system_uses_is_a_kafka_topic(
    manifests: list[Doc], config: dict[str, str]
) -> None:
    settings = Settings(topic_prefix=config["KONKURS_TOPIC_PREFIX"])
    kafka_topics = _of_kind(manifests, "KafkaTopic")
    topics = {t["spec"].get("topicName", t["metadata"]["name"]) for t in kafka_topics}
    assert topics == set(system_topics(settings))


def test_every_kafka_topic_has_three_replicas_two_in_sync_and_is_kept_forever(
    manifests: list[Doc], config: dict[str, str]
) -> None:
    (kafka,) = _of_kind(manifests, "Kafka")
    for topic in _of_kind(manifests, "KafkaTopic"):
        name, spec = topic["metadata"]["name"], topic["spec"]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert spec["replicas"] == 3, name
        assert int(spec["config"]["min.insync.replicas"]) == 2, name
        assert int(spec["config"]["retention.ms"]) == -1, name
        # Partitions cap consumer parallelism and decide where a key lands: the topics and
        # the services must agree on the count.
        assert spec["partitions"] == int(config["KONKURS_PARTITIONS"]), name


def test_kafka_replicates_three_ways_and_acknowledges_with_two_in_sync(
    manifests: list[Doc], config: dict[str, str]
) -> None:
    (kafka,) = _of_kind(manifests, "Kafka")
    (pool,) = _of_kind(manifests, "KafkaNodePool")
    cfg = kafka["spec"]["kafka"]["config"]
    assert cfg["default.replication.factor"] == 3
    assert cfg["min.insync.replicas"] == 2
    assert cfg["offsets.topic.replication.factor"] == 3
    assert cfg["transaction.state.log.replication.factor"] == 3
    assert cfg["transaction.state.log.min.isr"] == 2
    assert cfg["unclean.leader.election.enable"] is False
    assert cfg["auto.create.topics.enable"] is False
    # The topics faust creates for a worker itself: its code asks for 1 (one local broker).
    assert config["TOPIC_REPLICATION_FACTOR"] == "3"
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert pool["spec"]["replicas"] == 3
    assert sorted(pool["spec"]["roles"]) == ["broker", "controller"]


def test_the_services_reach_kafka_through_the_strimzi_bootstrap_service(
    manifests: list[Doc], config: dict[str, str]
) -> None:
    (kafka,) = _of_kind(manifests, "Kafka")
    (listener,) = kafka["spec"]["kafka"]["listeners"]
    assert config["KAFKA_BOOTSTRAP"] == f"{kafka['metadata']['name']}-kafka-bootstrap:9092"
    assert listener["port"] == 9092


def test_postgres_has_three_instances_and_commits_to_a_standby(manifests: list[Doc]) -> None:
    (cluster,) = _of_kind(manifests, "Cluster")
    assert cluster["spec"]["instances"] == 3
    assert cluster["spec"]["postgresql"]["synchronous"]["number"] >= 1


def test_every_process_of_the_procfile_is_a_deployment_of_that_name(
    manifests: list[Doc],
) -> None:
    deployed = {name: command for name, (command, _) in _deployments(manifests).items()}
    assert deployed == PROCESSES


def test_every_api_probes_readyz_and_healthz_on_its_port_behind_a_service(
    manifests: list[Doc],
) -> None:
    services = {s["metadata"]["name"]: s for s in _of_kind(manifests, "Service")}
    apis = {n: (c, d) for n, (c, d) in _deployments(manifests).items() if c[1] == "api"}
    assert apis.keys() == services.keys()
    for name, (command, deployment) in apis.items():
        port = PORTS[command[2]]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        (container_port,) = container["ports"]
        assert container_port["containerPort"] == port, name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["port"] == container_port["name"], name

        service = services[name]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items(), name
        (service_port,) = service["spec"]["ports"]
        assert service_port["port"] == port, name
        assert service_port["targetPort"] == container_port["name"], name


def test_consumers_do_not_outnumber_the_partitions(
    manifests: list[Doc], config: dict[str, str]
) -> None:
    for name, (command, deployment) in _deployments(manifests).items():
        if command[1] in CONSUMERS:
            assert 1 <= deployment["spec"]["replicas"] <= int(config["KONKURS_PARTITIONS"]), name


def test_every_container_runs_the_image_unprivileged_with_config_and_limits(
    manifests: list[Doc],
) -> None:
    for workload, container in _containers(manifests):
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        assert container["image"] == "konkurs", name  # the kustomization's `images:` tags it
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
        assert container["resources"]["requests"].keys() >= {"cpu", "memory"}, name
        assert "memory" in container["resources"]["limits"], name
        assert {"configMapRef": {"name": "konkurs-config"}} in container["envFrom"], name
        env = {e["name"]: e for e in container["env"]}
        # Credentials come from Secrets, never from the config. A service's processes get
        # only their own role's (issue 13: least privilege); the migration Job, which
        # creates the roles, the superuser's and each role's URL to set its password.
        if workload["kind"] == "Job":
            expected = {"DATABASE_URL": "konkurs-pg-superuser"} | {
                f"KONKURS_{spec.name.upper()}_DATABASE_URL": f"konkurs-pg-{spec.name}"
                for spec in SPECS
            }
        else:
            service = container["command"][2]
            expected = {f"KONKURS_{service.upper()}_DATABASE_URL": f"konkurs-pg-{service}"}
        secrets = {n: e["valueFrom"]["secretKeyRef"] for n, e in env.items() if "DATABASE_URL" in n}
        assert secrets == {n: {"name": s, "key": "uri"} for n, s in expected.items()}, name
        # A read-only root leaves the home directory (KONKURS_HOME, faust's state) and /tmp
        # to volumes.
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/tmp", "/home/konkurs"} <= mounts, name


def test_the_job_migrates_the_database(manifests: list[Doc]) -> None:
    (job,) = _of_kind(manifests, "Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["konkurs", "migrate"]
    assert job["spec"]["backoffLimit"] > 0  # PostgreSQL may still be starting


# docker-compose.yml

# The validation here is structural. `docker compose config -q` would check the file
# against the Compose specification without an engine, but the compose CLI plugin is
# neither on the project's machines nor a project dependency (`docker compose version`
# answers "unknown command" there); the file was checked with Compose v2.40 by hand.
COMPOSE_TOP_LEVEL = {"name", "services", "volumes", "networks", "configs", "secrets"}
COMPOSE_SERVICE_KEYS = {
    "image",
    "build",
    "command",
    "environment",
    "ports",
    "volumes",
    "depends_on",
    "healthcheck",
    "restart",
}
DEPENDENCY_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def _konkurs_services(compose: Doc) -> dict[str, Doc]:
    return {n: s for n, s in compose["services"].items() if s["image"] == IMAGE}


def test_compose_file_is_well_formed(compose: Doc) -> None:
    assert {k for k in compose if not k.startswith("x-")} <= COMPOSE_TOP_LEVEL
    services = compose["services"]
    declared_volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        assert set(service) <= COMPOSE_SERVICE_KEYS, name
        assert "image" in service, name
        for dependency, spec in service.get("depends_on", {}).items():
            assert dependency in services, (name, dependency)
            assert spec["condition"] in DEPENDENCY_CONDITIONS, (name, dependency)
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], (name, dependency)
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source.startswith((".", "/")) or source in declared_volumes, (name, volume)
        for port in service.get("ports", []):
            # Published on the host's loopback only, like the local stack.
            interface, host, container = port.split(":")
            assert interface == "127.0.0.1", (name, port)
            assert host.isdigit() and container.isdigit(), (name, port)
    # Exactly one service builds the image; the others run the tag it produces.
    (builder,) = (n for n, s in services.items() if "build" in s)
    assert services[builder]["image"] == IMAGE


def test_compose_runs_every_process_of_the_procfile_after_the_init(compose: Doc) -> None:
    konkurs = _konkurs_services(compose)
    init = konkurs.pop("init")
    assert init["command"] == ["sh", "-c", "konkurs migrate && konkurs topics create"]
    assert init["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    assert {n: _as_in_procfile(s["command"]) for n, s in konkurs.items()} == PROCESSES
    after_init = {"init": {"condition": "service_completed_successfully"}}
    for name, service in konkurs.items():
        assert service["depends_on"] == after_init, name


def test_compose_gives_each_process_only_its_own_database_role(compose: Doc) -> None:
    konkurs = _konkurs_services(compose)
    init = konkurs.pop("init")["environment"]
    own_urls = {f"KONKURS_{spec.name.upper()}_DATABASE_URL" for spec in SPECS}
    assert {k for k in init if "DATABASE_URL" in k} == {"DATABASE_URL"} | own_urls
    for name, service in konkurs.items():
        owner = service["command"][2]
        urls = {k: v for k, v in service["environment"].items() if "DATABASE_URL" in k}
        assert list(urls) == [f"KONKURS_{owner.upper()}_DATABASE_URL"], name
        assert urls[f"KONKURS_{owner.upper()}_DATABASE_URL"].startswith(
            f"postgresql://konkurs_{owner}:"
        ), name


def test_compose_publishes_each_api_on_its_local_port(compose: Doc) -> None:
    for name, service in _konkurs_services(compose).items():
        command = service["command"]
        if command[:2] == ["konkurs", "api"]:
            port = PORTS[command[2]]
            assert service["ports"] == [f"127.0.0.1:{port}:{port}"], name
        else:
            assert "ports" not in service, name


def test_compose_kafka_is_one_kraft_node_and_replicates_internal_topics_once(
    compose: Doc,
) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"] == "apache/kafka:3.9.1"
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    # With one broker, a replication factor above 1 for these would keep consumer groups
    # and transactions from ever starting.
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == 1
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == 1
    bootstrap = _konkurs_services(compose)["init"]["environment"]["KAFKA_BOOTSTRAP"]
    assert f"INTERNAL://{bootstrap}" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert compose["services"]["postgres"]["image"] == "postgres:15"


def test_compose_and_kubernetes_agree_on_topics_and_partitions(
    compose: Doc, config: dict[str, str]
) -> None:
    for name, service in _konkurs_services(compose).items():
        env = service["environment"]
        assert env["KONKURS_TOPIC_PREFIX"] == config["KONKURS_TOPIC_PREFIX"], name
        assert env["KONKURS_PARTITIONS"] == config["KONKURS_PARTITIONS"], name
    assert int(config["KONKURS_PARTITIONS"]) == Settings().partitions


# Dockerfile


def test_image_runs_unprivileged_with_the_generated_code_on_the_path() -> None:
    lines = (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in lines
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) == 2, "a build stage for the code generation and a runtime stage"
    runtime = lines[lines.index(stages[-1]) :]
    (user,) = (line.split()[1] for line in runtime if line.startswith("USER "))
    assert user.split(":")[0] not in ("root", "0")
    assert any("PYTHONPATH=/opt/konkurs/gen" in line for line in runtime)
    assert "COPY --from=build /src/build/gen/python /opt/konkurs/gen" in runtime
