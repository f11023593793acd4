"""The intake service as the platform and the tooling see it (registered in pyproject.toml
under the `konkurs.services` entry points)."""

from konkurs_platform.spec import Ref, ServiceSpec

SPEC = ServiceSpec(
    name="intake",
    port=8001,
    summary="calls for applications and the applications of the regions",
    api=Ref("konkurs_intake.bootstrap:create_app"),
    relay=True,
    # It seals the contact person's fields (a new applicant's contact gets a key) and opens
    # them to fold and answer its applications.
    personal_data="seal",
    demo=Ref("konkurs_intake.bootstrap:load_demo"),
)
