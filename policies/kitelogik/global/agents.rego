# Agent lifecycle: agent.spawn and agent.delegate (main consults this package only for them).
#
# The gate fills `spawn` for both events: requested_capabilities, parent_capabilities,
# child_scopes and depth (the child's depth: the parent's delegation_depth + 1).
#
# agent.spawn:    the child's depth may not exceed config.agents.max_spawn_depth (default 3), and
#                 the requested capabilities must be a subset of the parent's capabilities.
# agent.delegate: the child's depth may not exceed config.agents.max_delegation_depth (default 3),
#                 and child_scopes (and requested_capabilities) must be a subset of the scopes the
#                 delegating session holds (narrowed to its credential's scopes, when one is present):
#                 authority can only shrink along a delegation chain.
# When spawn.depth is missing the depth is taken as context.delegation_depth + 1; when neither is a
# number the event is denied (the depth cannot be checked).
package kitelogik.global.agents

import rego.v1

spawn := data.kitelogik.global.lib.obj(object.get(data.kitelogik.global.lib.inp, "spawn", {}))

depth := d if {
	d := data.kitelogik.global.lib.num(object.get(spawn, "depth", null))
	d != null
} else := d + 1 if {
	d := data.kitelogik.global.lib.num(object.get(data.kitelogik.global.lib.ctx, "delegation_depth", null))
	d != null
}

limit := data.kitelogik.global.lib.cfg.agents.max_spawn_depth if data.kitelogik.global.lib.event_type == "agent.spawn"

else := data.kitelogik.global.lib.cfg.agents.max_delegation_depth

requested := data.kitelogik.global.lib.strings(object.get(spawn, "requested_capabilities", []))

parent_caps := data.kitelogik.global.lib.strings(object.get(spawn, "parent_capabilities", []))

child_scopes := data.kitelogik.global.lib.strings(object.get(spawn, "child_scopes", []))

sorted_text(xs) := concat(", ", sort([x | some x in xs]))

deny contains d if {
	not depth
	d := {"rule": "global.agents.unknown_depth", "reason": sprintf("%s: the child's depth is unknown (spawn.depth and context.delegation_depth are missing)", [data.kitelogik.global.lib.event_type])}
}

deny contains d if {
	depth > limit
	d := {"rule": "global.agents.depth_limit", "reason": sprintf("%s: depth limit exceeded (the limit is %d)", [data.kitelogik.global.lib.event_type, limit])}
}

deny contains d if {
	data.kitelogik.global.lib.event_type == "agent.spawn"
	extra := requested - parent_caps
	count(extra) > 0
	d := {"rule": "global.agents.capability_escalation", "reason": sprintf("agent.spawn: requested capabilities exceed the parent's: %s", [sorted_text(extra)])}
}

deny contains d if {
	data.kitelogik.global.lib.event_type == "agent.delegate"
	extra := (child_scopes | requested) - data.kitelogik.global.lib.effective_scopes
	count(extra) > 0
	d := {"rule": "global.agents.scope_escalation", "reason": sprintf("agent.delegate: delegated scopes exceed the session's: %s", [sorted_text(extra)])}
}

allow contains {"rule": rule, "reason": reason} if {
	depth
	rule := concat("", ["global.agents.", replace(data.kitelogik.global.lib.event_type, "agent.", ""), "_within_limits"])
	reason := sprintf("%s within the depth limit and the parent's authority", [data.kitelogik.global.lib.event_type])
}
