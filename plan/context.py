"""What every component of one stack shares, in one value: where it deploys, what it is called, how
its data is kept. Components take it instead of a namespace, a storage class and a protection flag
passed to each by hand."""

from __future__ import annotations

from dataclasses import dataclass

from plan.labels import standard_labels
from plan.settings import StackSettings


@dataclass(frozen=True)
class PlatformContext:
    # The name of the platform's resources (`<name>-<system>`) and the `instance` label.
    name: str
    environment: str
    namespace: str
    # The one Pod Security `privileged` namespace: node agents only (plan/settings.py agents_namespace).
    agents_namespace: str
    storage_class: str | None
    # Stateful resources are protected: `pulumi destroy` must not take their data (the environment
    # policy, monitoring/environments.py).
    protect: bool
    cluster_name: str

    def labels(self, system: str, role: str) -> dict[str, str]:
        """The recommended labels of an object the program declares for `system` in this platform."""
        return standard_labels(system, self.name, role)


def platform_context(settings: StackSettings, name: str) -> PlatformContext:
    return PlatformContext(
        name=name,
        environment=settings.environment,
        namespace=settings.namespace,
        agents_namespace=settings.agents_namespace,
        storage_class=settings.storage_class,
        protect=settings.protect,
        cluster_name=settings.cluster.name,
    )
