"""The scoring service as the platform and the tooling see it (registered in pyproject.toml
under the `konkurs.services` entry points)."""

from konkurs_platform.spec import Ref, ServiceSpec, Worker

SPEC = ServiceSpec(
    name="scoring",
    port=8002,
    summary="screening, expert evaluation and ranking by the call's methodology",
    api=Ref("konkurs_scoring.bootstrap:create_app"),
    workers=(
        Worker("worker", Ref("konkurs_scoring.bootstrap:create_worker"), consumes=("intake",)),
    ),
)
