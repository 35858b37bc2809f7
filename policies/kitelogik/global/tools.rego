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

# Tiers claimed for a subject by the registry and by the tool declaration.
claimed_tiers(s) := {t |
	some t in [object.get(obj_entry(s.action), "tier", null), object.get(s.tool, "risk_tier", null)]
	data.kitelogik.global.lib.valid_tier(t)
}

# obj_entry(name): the registry entry for a tool name; {} for an unknown tool.
obj_entry(name) := data.kitelogik.global.lib.obj(object.get(registry, name, {}))

known(s) if count(claimed_tiers(s)) > 0

tier(s) := data.kitelogik.global.lib.max_tier(claimed_tiers(s)) if known(s)

tier(s) := data.kitelogik.global.lib.cfg.unknown_tool_tier if not known(s)

outcome(s) := object.get(data.kitelogik.global.lib.cfg.tiers, [tier(s), "outcome"], "deny_unless_allowed")

external(s) if object.get(obj_entry(s.action), "external", false) == true

external(s) if object.get(s.tool, "external", false) == true

required_scopes(s) := {x | some x in [object.get(obj_entry(s.action), "scope", null), object.get(data.kitelogik.global.lib.obj(object.get(s.tool, "labels", {})), "required_scope", null)]; is_string(x)}

deny contains v if {
	some s in data.kitelogik.global.lib.subjects
	not known(s)
	v := data.kitelogik.global.lib.violation(s, "global.tools.unknown_tool", sprintf("tool '%s' is not in the tool registry and declares no risk tier", [data.kitelogik.global.lib.text(s.action)]))
}

deny contains v if {
	some s in data.kitelogik.global.lib.subjects
	some scope in required_scopes(s)
	not scope in data.kitelogik.global.lib.effective_scopes
	v := data.kitelogik.global.lib.violation(s, "global.tools.missing_scope", sprintf("tool '%s' requires scope '%s', which the session (and its credential) does not hold", [data.kitelogik.global.lib.text(s.action), scope]))
}

deny contains v if {
	some s in data.kitelogik.global.lib.subjects
	roles := object.get(obj_entry(s.action), "roles", null)
	is_array(roles)
	not data.kitelogik.global.lib.user_role in roles
	v := data.kitelogik.global.lib.violation(s, "global.tools.role_not_permitted", sprintf("tool '%s' is not permitted for user role '%s'", [data.kitelogik.global.lib.text(s.action), data.kitelogik.global.lib.user_role]))
}

requires_hitl contains v if {
	some s in data.kitelogik.global.lib.subjects
	known(s)
	t := tier(s)
	data.kitelogik.global.lib.cfg.tiers[t].outcome in {"escalate", "deny_unless_allowed"}
	v := data.kitelogik.global.lib.violation(s, sprintf("global.tools.%s_requires_approval", [t]), sprintf("tool '%s' is %s: a human must approve this call", [data.kitelogik.global.lib.text(s.action), t]))
}

# security_critical: the global tier never allows it on its own; this reason explains a default
# deny when no project rule allows it.
not_allowed contains v if {
	some s in data.kitelogik.global.lib.subjects
	known(s)
	outcome(s) == "deny_unless_allowed"
	v := data.kitelogik.global.lib.violation(s, "global.tools.security_critical_needs_explicit_allow", sprintf("tool '%s' is security_critical: it needs an explicit project-tier allow and a human approval", [data.kitelogik.global.lib.text(s.action)]))
}

allow contains {"rule": "global.tools.risk_tier_permits", "reason": "every requested tool is registered and its risk tier permits it"} if {
	count(data.kitelogik.global.lib.subjects) > 0
	every s in data.kitelogik.global.lib.subjects {
		known(s)
		outcome(s) in {"allow", "escalate"}
	}
}

risk_tier := data.kitelogik.global.lib.max_tier({tier(s) | some s in data.kitelogik.global.lib.subjects}) if count(data.kitelogik.global.lib.subjects) > 0

else := "informational"
