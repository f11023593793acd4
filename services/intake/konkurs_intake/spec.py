"""The intake service as the platform and the tooling see it (registered in pyproject.toml
under the `konkurs.services` entry points)."""

from konkurs_platform.spec import Ref, ServiceSpec

SPEC = ServiceSpec(
    name="intake",
    port=8001,
    summary="calls for applications and the applications of the regions",
    api=Ref("konkurs_intake.bootstrap:create_app"),
    relay=True,
    demo=Ref("konkurs_intake.bootstrap:load_demo"),
)
