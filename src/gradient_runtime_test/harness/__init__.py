"""The harness: runs inside a runtime's container and reports on it.

It runs in the runtime's own Python (3.8 or newer), uses only the standard library plus the
runtime's own nbclient/nbformat/jupyter_client, and imports nothing from the rest of the package:
it is shipped as a zipapp in which this package is named ``grt_harness``. The contract with the
orchestrator is docs/harness-protocol.md; its definitions live in ``protocol`` (spec and results)
and ``bundle`` (the frames).
"""

HARNESS_VERSION = "0.1.0"
