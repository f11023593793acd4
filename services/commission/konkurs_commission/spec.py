"""The commission service as the platform and the tooling see it (registered in pyproject.toml
under the `konkurs.services` entry points)."""

from konkurs_platform.spec import ServiceSpec

SPEC = ServiceSpec(
    name="commission",
    port=8003,
    summary="meetings, recusals, votes within the quota, minutes, decisions and appeals",
)
