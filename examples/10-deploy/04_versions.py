"""Deployed versions: a new deploy never changes what version 1 does, or runs already going.

    python examples/10-deploy/04_versions.py

Each ``deploy()`` of a changed definition stores a new version under the same name;
deploying an unchanged one returns the latest version with ``created=False``.
``run("name")`` starts the latest version, ``run("name", version=1)`` an older one, and
``plan("name")`` lists the versions. With no API key the model is scripted (each version
has its own scripted answer, so the output shows which one ran).
"""

from agentspan.agents import Agent, AgentRuntime
from agentspan.agents.testing import scripted_or_live

NAME = "gallery_greeting_desk"


def greeter(style: str, answer: str) -> Agent:
    return Agent(name=NAME, model=scripted_or_live([answer]), instructions=f"Greet the visitor {style}.")


with AgentRuntime() as runtime:
    first = runtime.deploy(greeter("formally", "Good afternoon, and welcome."))[0]
    second = runtime.deploy(greeter("casually", "Hey, welcome!"))[0]
    again = runtime.deploy(greeter("casually", "Hey, welcome!"))[0]
    print(f"second deploy is a new version: {second.version != first.version} (created={second.created})")
    print(f"an unchanged deploy keeps it: {again.version == second.version} (created={again.created})")

    print("latest:", runtime.run(NAME, "Hi!").output)
    print("pinned:", runtime.run(NAME, "Hi!", version=first.version).output)
    versions = runtime.plan(NAME)["versions"]
    print("versions stored:", len(versions) >= 2)

# expect: second deploy is a new version: True (created=True)
# expect: an unchanged deploy keeps it: True (created=False)
# expect: latest: Hey, welcome!
# expect: pinned: Good afternoon, and welcome.
# expect: versions stored: True
