"""``python -m agentspan.cli``: the same as the ``agentspan`` console script."""

from agentspan.cli import main

raise SystemExit(main())
