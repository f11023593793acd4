"""The commission service as the platform and the tooling see it (registered in pyproject.toml
under the `konkurs.services` entry points)."""

from konkurs_platform.spec import Ref, ServiceSpec, Worker

SPEC = ServiceSpec(
    name="commission",
    port=8003,
    summary="meetings, recusals, votes within the quota, minutes, decisions and appeals",
    api=Ref("konkurs_commission.bootstrap:create_app"),
    # Compositions, meetings and appeals on konkurs.commission.events.v1.
    relay=True,
    workers=(
        # Intake's calls and applications; scoring's rankings.
        Worker(
            "worker",
            Ref("konkurs_commission.bootstrap:create_worker"),
            consumes=("intake", "scoring"),
        ),
    ),
    # A member's name is sealed in its own stream (a new member gets a key), and opened for
    # the minutes and the composition.
    personal_data="seal",
    # After scoring's: waits for the worker to learn the 2017 ranking, then holds the meeting.
    demo=Ref("konkurs_commission.demo:load"),
)
