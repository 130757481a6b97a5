"""Before money is spent: `grt doctor` and `grt doctor --probe`.

`findings` is the shape of a check's answer and how it is shown (a table, JSON, one annotation per
finding); `doctor` asks the Gradient API, creating nothing, whether a run would trip (the key, the
project, the machines, the running limit, leftovers, latency); `probe` creates exactly one cheap
notebook and records how the platform really behaves (`probe_plan` builds what it runs and reads
back what it printed, purely; `probe_report` is the report it writes). Checking the workspaces
and images a run would use is `grt plan --check-sources` (`sources/`), not repeated here.
"""
