"""Plan tracking as the platform and the tooling see it (registered in pyproject.toml under
the `konkurs.services` entry points)."""

from konkurs_platform.spec import ServiceSpec

SPEC = ServiceSpec(
    name="plans",
    port=8004,
    summary="development plans of the selected clusters: versions, reports, overdue items",
)
