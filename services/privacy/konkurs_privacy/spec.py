"""The privacy service as the platform and the tooling see it (registered in pyproject.toml
under the `konkurs.services` entry points)."""

from konkurs_platform.spec import Ref, ServiceSpec, Worker

SPEC = ServiceSpec(
    name="privacy",
    port=8005,
    summary="erasure and retention of personal data, and access requests of data subjects",
    api=Ref("konkurs_privacy.bootstrap:create_app"),
    relay=True,
    workers=(
        Worker("worker", Ref("konkurs_privacy.bootstrap:create_worker"), consumes=("intake",)),
    ),
    # It destroys the keys of erased subjects, and opens values for an access request.
    personal_data="erase",
)
