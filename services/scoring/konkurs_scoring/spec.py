"""The scoring service as the platform and the tooling see it (registered in pyproject.toml
under the `konkurs.services` entry points)."""

from konkurs_platform.spec import Ref, ServiceSpec, Worker

SPEC = ServiceSpec(
    name="scoring",
    port=8002,
    summary="screening, expert evaluation and ranking by the call's methodology",
    api=Ref("konkurs_scoring.bootstrap:create_app"),
    # Screening, the registry, assignments and evaluations on konkurs.scoring.events.v1.
    relay=True,
    workers=(
        # Intake's calls and applications; the commission's re-evaluation requests.
        Worker(
            "worker",
            Ref("konkurs_scoring.bootstrap:create_worker"),
            consumes=("intake", "commission"),
        ),
    ),
    # An expert's name is sealed in the registry's events (a new expert gets a key), and
    # opened to answer the registry.
    personal_data="seal",
    # The commission decides on scoring's rankings: it comes after scoring, even though
    # scoring reacts to its re-evaluation requests.
    after=("intake",),
    # After intake's: waits for the worker to screen the 2017 applications, then evaluates.
    demo=Ref("konkurs_scoring.demo:load"),
)
