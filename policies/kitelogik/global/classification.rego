# Data classification: public < internal < confidential < restricted
# (data.kitelogik.config.classification; an unknown label counts as restricted).
#
# The labels of an event are input.data_labels plus resource.classification (and, for a plan step,
# the step's own data_labels / resource.classification).
#
# Flow rule (tool_call and plan steps): data labelled confidential or above may not flow to an
# external tool (registry `external` or tool.external true).
#
# Clearance rule (data.access): the session needs a clearance at least as high as the highest
# label. Clearance is granted by a scope "clearance:<level>" in context.session_scopes (and, when a
# credential is present, also in credential.scopes: data.kitelogik.global.lib.effective_scopes). Without such a scope the
# clearance is config.classification.default_clearance ("public"). Data with no label at all is
# treated as config.classification.unlabeled_access_as ("internal"). Access to restricted data is
# escalated to a human even with clearance. A write (access.mode "write") needs the same clearance.
package kitelogik.global.classification

import rego.v1

c := data.kitelogik.global.lib.cfg.classification

rank(label) := object.get(c.labels, label, c.unknown_label_rank)

level(r) := c.order[r]

max_rank(labels) := max({rank(l) | some l in labels}) if count(labels) > 0

max_rank(labels) := -1 if count(labels) == 0

clearance_rank := max({rank(l) |
	some s in data.kitelogik.global.lib.effective_scopes
	startswith(s, "clearance:")
	l := substring(s, 10, -1)
	object.get(c.labels, l, null) != null
} | {rank(c.default_clearance)})

deny contains v if {
	some f in data.kitelogik.global.tools.facts
	f.external
	s := f.s
	r := max_rank(s.labels)
	r >= c.no_external_flow_from
	v := data.kitelogik.global.lib.violation(s, "global.classification.external_flow", sprintf("data labelled %s may not flow to the external tool '%s'", [level(r), data.kitelogik.global.lib.text(s.action)]))
}

access_rank := r if {
	r := max_rank(data.kitelogik.global.lib.input_labels)
	r >= 0
} else := rank(c.unlabeled_access_as)

deny contains d if {
	data.kitelogik.global.lib.event_type == "data.access"
	access_rank > clearance_rank
	d := {"rule": "global.classification.insufficient_clearance", "reason": sprintf("data.access: %s data needs clearance '%s' (scope clearance:%s)", [level(access_rank), level(access_rank), level(access_rank)])}
}

requires_hitl contains d if {
	data.kitelogik.global.lib.event_type == "data.access"
	access_rank >= c.escalate_access_from
	d := {"rule": "global.classification.restricted_access_requires_approval", "reason": sprintf("data.access: access to %s data needs a human approval", [level(access_rank)])}
}

allow contains {"rule": "global.classification.clearance_sufficient", "reason": "data.access within the session's clearance"} if {
	data.kitelogik.global.lib.event_type == "data.access"
	access_rank <= clearance_rank
}

risk_tier := t if {
	data.kitelogik.global.lib.event_type == "data.access"
	access_rank >= 3
	t := "security_critical"
} else := "transactional_high" if {
	data.kitelogik.global.lib.event_type == "data.access"
	access_rank == 2
} else := object.get(data.kitelogik.global.lib.cfg.event_tiers, data.kitelogik.global.lib.event_type, "informational")
