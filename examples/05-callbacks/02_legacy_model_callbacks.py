"""``before_model_callback`` / ``after_model_callback``: plain functions around model calls.

    python examples/05-callbacks/02_legacy_model_callbacks.py

The older, function-style hooks (still supported, with a DeprecationWarning pointing to
``callbacks=[CallbackHandler(...)]``). ``before_model_callback`` may answer for the model
(return ``{"response": text}``: the model is not called, e.g. a cache hit; then there is no
model reply for ``after_model_callback`` to see), and ``after_model_callback`` may replace
the model's reply. Both run in your process and are recorded like any callback.
"""

from typing import Any

from agentspan.agents import Agent, AgentRuntime
from agentspan.agents.testing import scripted_or_live

CACHE = {"What are your opening hours?": "We are open 9:00-17:00, Monday to Friday."}


def answer_from_cache(messages: list[dict[str, Any]], **kwargs: Any) -> dict[str, str] | None:
    question = messages[-1]["content"]
    if question in CACHE:
        print(f"before_model: cache hit for {question!r}")
        return {"response": CACHE[question]}
    print(f"before_model: cache miss for {question!r}")
    return None


def sign_reply(llm_result: str, **kwargs: Any) -> dict[str, str]:
    print(f"after_model: model said {llm_result!r}")
    return {"response": f"{llm_result} (the Acme team)"}


agent = Agent(
    name="cached_helpdesk",
    model=scripted_or_live(["Returns are free within 30 days."]),
    instructions="Answer customer questions in one sentence.",
    before_model_callback=answer_from_cache,
    after_model_callback=sign_reply,
)

with AgentRuntime() as runtime:
    for question in ["What are your opening hours?", "Can I return a sweater?"]:
        result = runtime.run(agent, question)
        model_calls = sum(e.type == "llm_call" for e in result.events)
        print(f"-> {result.output}  [model calls: {model_calls}]")

# expect: before_model: cache hit for 'What are your opening hours?'
# expect: -> We are open 9:00-17:00, Monday to Friday.  [model calls: 0]
# expect: before_model: cache miss for 'Can I return a sweater?'
# expect: after_model: model said 'Returns are free within 30 days.'
# expect: -> Returns are free within 30 days. (the Acme team)  [model calls: 1]
