# Tool rules: the tool registry, required scopes and roles, and the risk-tier outcomes.
#
# Consulted for tool_call and plan events only (main dispatches); a plan's steps are subjects too,
# so every step is judged exactly as the same tool_call would be.
#
# Registry: data.kitelogik.config.tools (name -> {tier, scope, external, roles?}), extended by the
# project tier's `tools` object for names the global registry does not define (a project can add
# tools, never weaken a shipped entry). A tool declared by the host application with a
# tool.risk_tier (set by whoever registered the tool, never the model) counts as known too.
# When both give a tier, the higher one wins.
#
# Unknown tools (no registry entry and no declared tier) are DENIED: the registry is the allow list.
#
# Tier outcomes (data.kitelogik.config.tiers):
#   informational, operational  -> allow
#   transactional_high, destructive -> escalate (a human approves this exact call)
#   security_critical -> not allowed by the global tier; allowed only when the project tier
#                        explicitly allows the event, and then still escalated to a human.
package kitelogik.global.tools

import rego.v1

# (A comprehension is always defined, also when no project tier is loaded.)
project_tools := object.union_n([t | t := data.kitelogik.project.tools; is_object(t)])

# The effective registry: project entries for new names; a shipped entry always wins.
registry := object.union(project_tools, data.kitelogik.global.lib.cfg.tools)

# Everything the rules below need about each subject, computed once per decision (rule values
# are cached within an evaluation; function results are not, so the rules never call the
# per-subject functions themselves).
facts := [f |
	some s in data.kitelogik.global.lib.subjects
	e := obj_entry(s.action)
	claimed := claimed_tiers(e, s)
	t := tier_of(claimed)
	f := {
		"s": s,
		"known": count(claimed) > 0,
		"tier": t,
		"outcome": object.get(data.kitelogik.global.lib.cfg.tiers, [t, "outcome"], "deny_unless_allowed"),
		"external": is_external(e, s),
		"scopes": required_scopes(e, s),
		"roles": object.get(e, "roles", null),
	}
]

# obj_entry(name): the registry entry for a tool name; {} for an unknown tool.
obj_entry(name) := data.kitelogik.global.lib.obj(object.get(registry, name, {}))

# Tiers claimed for a subject by the registry and by the tool declaration.
claimed_tiers(e, s) := {t |
	some t in [object.get(e, "tier", null), object.get(s.tool, "risk_tier", null)]
	data.kitelogik.global.lib.valid_tier(t)
}

# The highest claimed tier; the configured unknown-tool tier when nothing claims one.
tier_of(claimed) := data.kitelogik.global.lib.max_tier(claimed) if count(claimed) > 0

tier_of(claimed) := data.kitelogik.global.lib.cfg.unknown_tool_tier if count(claimed) == 0

is_external(e, s) := true if external_flag(e, s)

is_external(e, s) := false if not external_flag(e, s)

external_flag(e, s) if object.get(e, "external", false) == true

external_flag(e, s) if object.get(s.tool, "external", false) == true

required_scopes(e, s) := {x | some x in [object.get(e, "scope", null), object.get(data.kitelogik.global.lib.obj(object.get(s.tool, "labels", {})), "required_scope", null)]; is_string(x)}

deny contains v if {
	some f in facts
	not f.known
	v := data.kitelogik.global.lib.violation(f.s, "global.tools.unknown_tool", sprintf("tool '%s' is not in the tool registry and declares no risk tier", [data.kitelogik.global.lib.text(f.s.action)]))
}

deny contains v if {
	some f in facts
	some scope in f.scopes
	not scope in data.kitelogik.global.lib.effective_scopes
	v := data.kitelogik.global.lib.violation(f.s, "global.tools.missing_scope", sprintf("tool '%s' requires scope '%s', which the session (and its credential) does not hold", [data.kitelogik.global.lib.text(f.s.action), scope]))
}

deny contains v if {
	some f in facts
	is_array(f.roles)
	not data.kitelogik.global.lib.user_role in f.roles
	v := data.kitelogik.global.lib.violation(f.s, "global.tools.role_not_permitted", sprintf("tool '%s' is not permitted for user role '%s'", [data.kitelogik.global.lib.text(f.s.action), data.kitelogik.global.lib.user_role]))
}

requires_hitl contains v if {
	some f in facts
	f.known
	f.outcome in {"escalate", "deny_unless_allowed"}
	v := data.kitelogik.global.lib.violation(f.s, sprintf("global.tools.%s_requires_approval", [f.tier]), sprintf("tool '%s' is %s: a human must approve this call", [data.kitelogik.global.lib.text(f.s.action), f.tier]))
}

# security_critical: the global tier never allows it on its own; this reason explains a default
# deny when no project rule allows it.
not_allowed contains v if {
	some f in facts
	f.known
	f.outcome == "deny_unless_allowed"
	v := data.kitelogik.global.lib.violation(f.s, "global.tools.security_critical_needs_explicit_allow", sprintf("tool '%s' is security_critical: it needs an explicit project-tier allow and a human approval", [data.kitelogik.global.lib.text(f.s.action)]))
}

allow contains {"rule": "global.tools.risk_tier_permits", "reason": "every requested tool is registered and its risk tier permits it"} if {
	count(facts) > 0
	every f in facts {
		f.known
		f.outcome in {"allow", "escalate"}
	}
}

risk_tier := data.kitelogik.global.lib.max_tier({f.tier | some f in facts}) if count(facts) > 0

else := "informational"
