"""Skills: a directory with SKILL.md, scripts and references becomes an agent.

    python examples/09-code-execution/05_skills.py

``skill("skills/word-stats")`` reads the skill next to this file: SKILL.md's body is the
instructions (its front-matter ``params`` are appended), each file in ``scripts/`` is a tool
``word_stats__<script>`` that runs the script with the model's arguments, and
``word_stats__read_skill_file`` reads the skill's other files. Scripts run in this worker
as durable steps. Needs ``pip install 'agentspan[skills]'`` (PyYAML). With no API key the
model is scripted.
"""

from pathlib import Path

from agentspan.agents import AgentRuntime, skill
from agentspan.agents.testing import ToolCall, scripted_or_live

TEXT = "The cat sat on the mat and the cat saw the dog, and the dog saw the cat."

word_stats = skill(
    Path(__file__).parent / "skills" / "word-stats",
    model=scripted_or_live(
        [
            ToolCall("word_stats__count_words", {"command": f"'{TEXT}'"}),
            ToolCall("word_stats__read_skill_file", {"path": "references/stopwords.txt"}),
            "18 words; 'cat' is the most frequent (3 times). Words like 'the' and 'and' are ignored.",
        ]
    ),
)

with AgentRuntime() as runtime:
    print("tools:", [t.name for t in word_stats.tools])
    result = runtime.run(word_stats, f"Which word is most frequent, and which are ignored? {TEXT}")
    print(result.output)
    counted, stopwords = (call["result"] for call in result.tool_calls)
    print("count_words printed:", counted.strip())
    print("stop words file:", stopwords.split())

# requires: yaml
# expect: tools: ['word_stats__count_words', 'word_stats__read_skill_file']
# expect: count_words printed: 18 words; most frequent: [('cat', 3), ('saw', 2), ('dog', 2)]
# expect: stop words file: ['a', 'an', 'and', 'the', 'of', 'to', 'is', 'in']
