"""Configuration, read once from the environment by `Settings.from_env()`.

Nothing reads `os.environ` anywhere else: tests build a `Settings` value and pass it in.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[3]

# `KONKURS_<SERVICE>_PORT`: a service's HTTP port, overriding the default of its spec.
_PORT_KEY = re.compile(r"^KONKURS_([A-Z][A-Z0-9]*)_PORT$")
_NOT_A_SERVICE_PORT = {"KONKURS_PG_PORT"}

DEV_JWT_SECRET = "konkurs-development-secret-do-not-use-in-production"


@dataclass(frozen=True)
class Settings:
    """Every setting the platform knows, with the defaults of the local stack."""

    home: Path = REPO_ROOT / ".local"
    cache: Path = Path.home() / ".cache" / "konkurs"
    kafka_bootstrap: str = "localhost:9092"
    kafka_controller_port: int = 9093
    kafka_version: str = "3.9.1"
    kafka_heap: str = "512m"
    topic_prefix: str = "konkurs"
    partitions: int = 12
    # None means: start the private PostgreSQL cluster under `home` and use it.
    database_url: str | None = None
    pg_port: int = 5433
    pg_database: str = "konkurs"
    pool_size: int = 16
    # HTTP worker processes per API (`konkurs api SERVICE`): one per core the API may use.
    api_workers: int = 1
    jwt_issuer: str = "konkurs-dev"
    jwt_audience: str = "konkurs"
    # HS256 with a shared secret for development; an RS256/ES256 public key (PEM) in production.
    jwt_secret: str | None = DEV_JWT_SECRET
    jwt_public_key: str | None = None
    jwt_private_key: str | None = None
    max_body_bytes: int = 1 << 20
    max_batch_body_bytes: int = 256 << 20
    # Ports set for particular services; the others listen on their spec's default port.
    ports: dict[str, int] = field(default_factory=dict)
    log_level: str = "INFO"
    # Ed25519 private key (PEM) that signs the audit chain's checkpoints; in development a key
    # is made once under `home/keys`. The database never holds it.
    # Writes (POST, PUT, PATCH, DELETE) each token may make per minute, and the burst it may
    # spend at once: a careless or hostile client cannot flood intake. 0 means no limit.
    write_rate_per_minute: float = 600.0
    write_rate_burst: int = 120
    audit_signing_key: str | None = None
    audit_checkpoint_seconds: float = 300.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read `KONKURS_*`, `KAFKA_BOOTSTRAP` and `DATABASE_URL` from the environment."""
        e = dict(os.environ if env is None else env)
        s = cls()
        ports = {
            match.group(1).lower(): int(value)
            for key, value in e.items()
            if key not in _NOT_A_SERVICE_PORT and (match := _PORT_KEY.match(key)) and value
        }

        def get(key: str, default: str | None) -> str | None:
            value = e.get(key)
            return value if value not in (None, "") else default

        def path(key: str, default: Path) -> Path:
            value = e.get(key)
            return Path(value) if value else default

        return replace(
            s,
            home=path("KONKURS_HOME", s.home),
            cache=path("KONKURS_CACHE", s.cache),
            kafka_bootstrap=get("KAFKA_BOOTSTRAP", s.kafka_bootstrap) or s.kafka_bootstrap,
            kafka_controller_port=int(
                get("KONKURS_KAFKA_CONTROLLER_PORT", str(s.kafka_controller_port)) or 0
            ),
            kafka_version=get("KONKURS_KAFKA_VERSION", s.kafka_version) or s.kafka_version,
            kafka_heap=get("KONKURS_KAFKA_HEAP", s.kafka_heap) or s.kafka_heap,
            topic_prefix=get("KONKURS_TOPIC_PREFIX", s.topic_prefix) or s.topic_prefix,
            partitions=int(get("KONKURS_PARTITIONS", str(s.partitions)) or 0),
            database_url=get("DATABASE_URL", None),
            pg_port=int(get("KONKURS_PG_PORT", str(s.pg_port)) or 0),
            pg_database=get("KONKURS_PG_DATABASE", s.pg_database) or s.pg_database,
            pool_size=int(get("KONKURS_POOL_SIZE", str(s.pool_size)) or 0),
            api_workers=int(get("KONKURS_API_WORKERS", str(s.api_workers)) or 0),
            jwt_issuer=get("KONKURS_JWT_ISSUER", s.jwt_issuer) or s.jwt_issuer,
            jwt_audience=get("KONKURS_JWT_AUDIENCE", s.jwt_audience) or s.jwt_audience,
            jwt_secret=get("KONKURS_JWT_SECRET", s.jwt_secret),
            jwt_public_key=get("KONKURS_JWT_PUBLIC_KEY", None),
            jwt_private_key=get("KONKURS_JWT_PRIVATE_KEY", None),
            max_body_bytes=int(get("KONKURS_MAX_BODY_BYTES", str(s.max_body_bytes)) or 0),
            max_batch_body_bytes=int(
                get("KONKURS_MAX_BATCH_BODY_BYTES", str(s.max_batch_body_bytes)) or 0
            ),
            ports=ports,
            log_level=get("KONKURS_LOG_LEVEL", s.log_level) or s.log_level,
            write_rate_per_minute=float(
                get("KONKURS_WRITE_RATE_PER_MINUTE", str(s.write_rate_per_minute)) or 0
            ),
            write_rate_burst=int(get("KONKURS_WRITE_RATE_BURST", str(s.write_rate_burst)) or 0),
            audit_signing_key=get("KONKURS_AUDIT_SIGNING_KEY", None),
            audit_checkpoint_seconds=float(
                get("KONKURS_AUDIT_CHECKPOINT_SECONDS", str(s.audit_checkpoint_seconds)) or 0
            ),
        )

    def for_service(self, service: str, env: dict[str, str] | None = None) -> Settings:
        """The settings of a process of `service`: it connects as the service's own role.

        `KONKURS_<SERVICE>_DATABASE_URL` names its connection outright (a deployment gives each
        service its own credentials); otherwise the user of `dsn` is replaced by
        `konkurs_<service>`, without a password (the local stack, where 127.0.0.1 is trusted;
        the administrator's password is never handed on to a service).
        """
        e = dict(os.environ if env is None else env)
        own = e.get(f"KONKURS_{service.upper()}_DATABASE_URL")
        if own:
            return replace(self, database_url=own)
        parts = urlsplit(self.dsn)
        host = parts.netloc.rsplit("@", 1)[-1]
        netloc = f"konkurs_{service}@{host}"
        return replace(self, database_url=urlunsplit(parts._replace(netloc=netloc)))

    @property
    def dsn(self) -> str:
        """The PostgreSQL connection string: `DATABASE_URL`, or the private cluster's."""
        if self.database_url:
            return self.database_url
        return f"postgresql://konkurs@127.0.0.1:{self.pg_port}/{self.pg_database}"

    def topic(self, name: str) -> str:
        """The full topic name for `name`: `events(service)` etc. build on this."""
        return f"{self.topic_prefix}.{name}"

    def events_topic(self, service: str) -> str:
        """`konkurs.<service>.events.v1`: the service's event stream, retained forever."""
        return self.topic(f"{service}.events.v1")

    @property
    def analytics_topic(self) -> str:
        return self.topic("analytics.v1")

    @property
    def deadletter_topic(self) -> str:
        return self.topic("deadletter.v1")

    def port(self, service: str, default: int) -> int:
        """The HTTP port of `service`: set in the environment, or its spec's `default`."""
        return self.ports.get(service, default)

    def all_topics(self, producers: Iterable[str]) -> list[str]:
        """Every topic the system uses, in creation order: the events of each producing
        service, the analytics feed and the dead letters."""
        return [self.events_topic(s) for s in producers] + [
            self.analytics_topic,
            self.deadletter_topic,
        ]
