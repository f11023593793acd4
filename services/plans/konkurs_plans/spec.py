"""Plan tracking as the platform and the tooling see it (registered in pyproject.toml under
the `konkurs.services` entry points)."""

from konkurs_platform.spec import Ref, ServiceSpec, Worker

SPEC = ServiceSpec(
    name="plans",
    port=8004,
    summary="development plans of the selected clusters: versions, reports, overdue items",
    api=Ref("konkurs_plans.bootstrap:create_app"),
    # Plans, their versions, reports and overdue items on konkurs.plans.events.v1.
    relay=True,
    workers=(
        # The commission's ClusterSelected opens a plan.
        Worker("worker", Ref("konkurs_plans.bootstrap:create_worker"), consumes=("commission",)),
    ),
    # After the commission's: waits for the worker to open the six 2017 plans, then drafts,
    # approves and reports on them at their historical times.
    demo=Ref("konkurs_plans.demo:load"),
)
