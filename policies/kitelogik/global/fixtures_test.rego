# Shared test fixtures (test-only package; never referenced by main).
package kitelogik.global.fixtures_test

import rego.v1

ctx := {
	"session_id": "s1", "agent_id": "a1", "parent_agent_id": null, "user_role": "support",
	"session_scopes": ["fs:read", "fs:write", "net:http", "email:send", "payments:refund", "shell:exec", "db:read", "db:write", "iam:admin"],
	"delegation_depth": 0, "framework": "langchain",
}

base := {
	"event_type": "tool_call", "action": "read_file", "args": {"path": "/srv/app/a.txt"},
	"resource": {"paths": ["/srv/app/a.txt"], "hosts": [], "classification": null},
	"context": ctx, "credential": null, "budget": null, "data_labels": [], "plan": null,
	"spawn": null, "tool": null, "now_ns": 1700000000000000000,
}

# call(action, resource): a tool_call input.
call(action, res) := object.union(base, {"action": action, "resource": res})

# with_fields(obj): base with top-level fields replaced.
with_fields(o) := object.union(base, o)

verdict(d) := "deny" if d.deny

verdict(d) := "escalate" if {
	not d.deny
	d.requires_hitl
}

verdict(d) := "allow" if {
	not d.deny
	not d.requires_hitl
	d.allow
}

# well_formed(d): the decision has exactly the documented shape and exactly one verdict flag.
well_formed(d) if {
	object.keys(d) == {"allow", "deny", "requires_hitl", "reasons", "risk_tier", "rules", "obligations"}
	count([b | some b in [d.allow, d.deny, d.requires_hitl]; b == true]) == 1
	is_array(d.reasons)
	count(d.reasons) > 0
	d.reasons == sort(d.reasons)
	d.rules == sort(d.rules)
	is_string(d.risk_tier)
	is_object(d.obligations)
}
