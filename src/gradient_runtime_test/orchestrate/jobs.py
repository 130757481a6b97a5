"""What `grt run` asks a provider to create for a cell: the harness spec, the notebook command,
the unique name and the tags. Pure: the one place a cell becomes a `Job`."""

from __future__ import annotations

from ..command import notebook_command, notebook_spec
from ..harness.protocol import Keep, expected_tests
from ..plan import Cell
from ..providers import naming
from ..providers.base import Launch, Provider
from .cells import Job

CHECKS_MARGIN_S = (
    900  # generic checks, kernel start-ups and the bundle, on top of notebook timeouts
)


def make_job(
    cell: Cell,
    *,
    provider: Provider,
    run_id: str,
    keep: Keep,
    workspace: str | None,
    ref: str | None,
    project_id: str | None,
    cluster_id: str | None = None,
    key: str | None = None,
    price_per_hour: float | None = None,
    expected_s: float = 0.0,
) -> Job:
    """The job for `cell`. `key` names the cell in the orchestrator (default: the machine, unique
    within one runtime's run). `price_per_hour` (USD, None: unknown) and `expected_s` price the
    cell for the budget."""
    runtime, machine = cell.runtime, cell.machine
    bundle_id = naming.new_cell_id()
    spec = notebook_spec(
        runtime, machine, bundle_id=bundle_id, keep=keep, workspace=provider.workspace_dir()
    )
    command = notebook_command(
        spec, provider.jupyter_command(runtime.command), end_delay_s=provider.end_delay_s
    )
    tags = naming.tags(
        run_id=run_id, cell_id=bundle_id, runtime_slug=runtime.slug, machine=machine.name
    )
    launch = Launch(
        cell_id=f"{cell.id}-{bundle_id}",
        name=naming.notebook_name(runtime.name, machine.name, bundle_id),
        machine=machine.name,
        container=runtime.container,
        command=command,
        environment=dict(runtime.environment),
        workspace=workspace,
        workspace_ref=ref,
        shutdown_timeout_h=runtime.shutdown_timeout,
        tags=tags,
        project_id=project_id,
        cluster_id=cluster_id or runtime.cluster_id,
    )
    notebooks_s = sum(n.timeout * (2 if n.rerun else 1) for n in runtime.notebooks if not n.skip)
    return Job(
        machine=key or machine.name,
        launch=launch,
        bundle_id=bundle_id,
        run_timeout_s=notebooks_s + CHECKS_MARGIN_S,
        expected_tests=expected_tests(spec),
        expected_failures=tuple((f.machine, f.test) for f in runtime.expected_failures),
        price_per_hour=price_per_hour,
        expected_s=expected_s,
    )
