# Starter library: agent delegation. On top of the global tier (authority only narrows, depth is
# bounded), a project names which agents may receive work and which scopes are never delegated.
#
# INERT until a project uses it (see policies/library/README.md).
package kitelogik.library.delegation

import rego.v1

defaults := {
	# Empty: any target agent. Otherwise the only agent ids a delegation may target.
	"allowed_targets": [],
	"never_delegate": ["iam:admin", "payments:transfer", "shell:exec"],
	"max_depth": 2,
}

settings := object.union(defaults, s) if {
	s := object.get(data.kitelogik.project.library_settings, "delegation", null)
	is_object(s)
} else := defaults

delegating if input.event_type in {"agent.delegate", "agent.spawn"}

spawn := s if {
	s := input.spawn
	is_object(s)
} else := {}

granted contains x if {
	some k in ["child_scopes", "requested_capabilities"]
	xs := object.get(spawn, k, [])
	is_array(xs) # `some .. in` over null/a number: OPA is undefined, regorus raises
	some x in xs
}

# The target is spawn.target_agent_id, set by the gate from Delegation.target_agent_id (never
# from the arguments); a delegation without a target cannot be checked, so it is denied too.
deny contains {"rule": "library.delegation.target_not_allowed", "reason": "delegation target is not an allowed agent"} if {
	input.event_type == "agent.delegate"
	count(settings.allowed_targets) > 0
	not object.get(spawn, "target_agent_id", null) in settings.allowed_targets
}

deny contains {"rule": "library.delegation.scope_never_delegated", "reason": sprintf("scope %v is never delegated", [x])} if {
	delegating
	some x in granted
	x in settings.never_delegate
}

deny contains {"rule": "library.delegation.too_deep", "reason": sprintf("delegation deeper than %v", [settings.max_depth])} if {
	delegating
	d := object.get(spawn, "depth", object.get(data.kitelogik.global.lib.inp, ["context", "delegation_depth"], 0) + 1)
	not shallow(d)
}

shallow(d) if {
	is_number(d)
	d <= settings.max_depth
}
