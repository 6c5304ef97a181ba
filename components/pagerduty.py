"""PagerDuty through its provider: the users (or lookups of existing ones), their contact methods and
notification rules, one schedule per area and rotation layer, one escalation policy and one service
with an Events API v2 integration per area and paging severity (plan/pagerduty.py holds them all).

The integration keys are what Alertmanager pages with: they leave this component only as secret
Outputs (`integration_keys`), for the Alertmanager receiver Secret (components/alerting.py). The
provider marks none of its outputs secret, so the integration's `integration_key` is made one here
(`additional_secret_outputs`): it is then encrypted in the state as well.
"""

from __future__ import annotations

import pulumi
import pulumi_pagerduty as pagerduty

from plan.pagerduty import INTEGRATION_NAME, INTEGRATION_TYPE, USER_ROLE, PagerDutyPlan, User, contact_slug


class PagerDuty(pulumi.ComponentResource):
    """The ownership model in PagerDuty, and the routing keys Alertmanager gets from it."""

    # (area, severity) -> the integration key of that service: a secret Output.
    integration_keys: dict[tuple[str, str], pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        plan: PagerDutyPlan,
        token: pulumi.Output[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("terrafusion:monitoring:PagerDuty", name, None, opts)
        # The REST API key stays a secret Output into the provider's configuration.
        self.provider = pagerduty.Provider(
            f"{name}-provider", token=pulumi.Output.secret(token), opts=pulumi.ResourceOptions(parent=self)
        )
        self._child = pulumi.ResourceOptions(parent=self, provider=self.provider)
        self._lookup = pulumi.InvokeOptions(parent=self, provider=self.provider)
        user_ids = {user.email: self._user(name, user, plan.existing_users) for user in plan.users}

        schedule_ids = {
            s.slug: pagerduty.Schedule(
                f"{name}-schedule-{s.slug}",
                name=s.name,
                description=s.description,
                time_zone=s.time_zone,
                layers=[
                    pagerduty.ScheduleLayerArgs(
                        name=s.layer,
                        start=s.start,
                        rotation_virtual_start=s.start,
                        rotation_turn_length_seconds=s.turn_length_seconds,
                        users=[user_ids[email] for email in s.members],
                    )
                ],
                opts=self._child,
            ).id
            for s in plan.schedules
        }
        policy_ids = {}
        for policy in plan.escalation_policies:
            policy_ids[policy.slug] = pagerduty.EscalationPolicy(
                f"{name}-policy-{policy.slug}",
                name=policy.name,
                description=policy.description,
                num_loops=policy.repeats,
                rules=[
                    pagerduty.EscalationPolicyRuleArgs(
                        escalation_delay_in_minutes=rule.delay_minutes,
                        targets=[
                            pagerduty.EscalationPolicyRuleTargetArgs(
                                type=t.type,
                                id=schedule_ids[t.ref] if t.type == "schedule_reference" else user_ids[t.ref],
                            )
                            for t in rule.targets
                        ],
                    )
                    for rule in policy.rules
                ],
                opts=self._child,
            ).id

        self.integration_keys = {}
        for service in plan.services:
            created = pagerduty.Service(
                f"{name}-service-{service.slug}",
                name=service.name,
                description=service.description,
                escalation_policy=policy_ids[service.policy],
                incident_urgency_rule=pagerduty.ServiceIncidentUrgencyRuleArgs(type="constant", urgency=service.urgency.value),
                # Alertmanager resolves what it paged (send_resolved): an incident must not close
                # itself while its alert still fires. Ref: PagerDuty/terraform-provider-pagerduty
                # website/docs/r/service.html.markdown (auto_resolve_timeout: `"null"` disables it)
                auto_resolve_timeout="null",
                opts=self._child,
            )
            integration = pagerduty.ServiceIntegration(
                f"{name}-integration-{service.slug}",
                name=INTEGRATION_NAME,
                service=created.id,
                type=INTEGRATION_TYPE,
                opts=pulumi.ResourceOptions.merge(
                    self._child, pulumi.ResourceOptions(additional_secret_outputs=["integration_key"])
                ),
            )
            self.integration_keys[(service.area, service.severity)] = pulumi.Output.secret(integration.integration_key)
        self.register_outputs({})

    def _user(self, name: str, user: User, existing: bool) -> pulumi.Output[str]:
        """The user's id (created, or looked up by email), with their contact methods and
        notification rules declared."""
        if existing:
            user_id = pagerduty.get_user_output(email=user.email, opts=self._lookup).id
        else:
            user_id = pagerduty.User(
                f"{name}-user-{user.slug}",
                name=user.name,
                email=user.email,
                role=USER_ROLE,
                job_title=user.job_title,
                opts=self._child,
            ).id
        methods = {}
        for method in user.contact_methods:
            if method.looked_up:
                # Registered by the PagerDuty app on the person's phone; found by its label.
                methods[method.kind] = pagerduty.get_user_contact_method_output(
                    user_id=user_id, type=method.kind.value, label=method.label, opts=self._lookup
                ).id
            else:
                # An email address PagerDuty already has (the login's) is adopted, not duplicated.
                # Ref: PagerDuty/terraform-provider-pagerduty vendor/github.com/heimweh/go-pagerduty/
                # pagerduty/user.go processCreateContactMethodResponse ("User Contact method must be unique")
                methods[method.kind] = pagerduty.UserContactMethod(
                    f"{name}-{user.slug}-{contact_slug(method.kind)}",
                    user_id=user_id,
                    type=method.kind.value,
                    label=method.label,
                    address=method.address,
                    country_code=method.country_code,
                    opts=self._child,
                ).id
        for rule in user.notification_rules:
            pagerduty.UserNotificationRule(
                f"{name}-{user.slug}-{rule.urgency.value}-{contact_slug(rule.contact)}",
                user_id=user_id,
                urgency=rule.urgency.value,
                start_delay_in_minutes=rule.start_delay_minutes,
                contact_method=pagerduty.UserNotificationRuleContactMethodArgs(id=methods[rule.contact], type=rule.contact.value),
                opts=self._child,
            )
        return user_id
