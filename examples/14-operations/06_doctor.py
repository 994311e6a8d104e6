"""agentspan doctor: one command that checks a server's health from the outside.

    python examples/14-operations/06_doctor.py

``agentspan doctor`` asks the server for its own report (reachability, version, database
schema, provider keys, workers, disk, auth, observability) and prints one line per check;
``--json`` gives the same as data. It exits 1 when a check fails. This example runs it
against the server in ``AGENTSPAN_SERVER_URL`` (default http://localhost:6767/api).
"""

import json
import subprocess
import sys

# The same as typing `agentspan doctor` in a shell.
human = subprocess.run([sys.executable, "-m", "agentspan.cli", "doctor"], capture_output=True, text=True)
print(human.stdout)

report = json.loads(
    subprocess.run(
        [sys.executable, "-m", "agentspan.cli", "doctor", "--json"], capture_output=True, text=True
    ).stdout
)
verdicts = {check["name"]: check["verdict"] for check in report["checks"]}
print("checks:", ", ".join(verdicts))
print(f"server: {verdicts['server']}, database: {verdicts['database']}")

# expect: server: ok, database: ok
# expect: checks: server, version, database,
