package kitelogik.global.plan_test

import rego.v1

import data.kitelogik.global.fixtures_test as fx
import data.kitelogik.main

plan(steps) := d if {
	d := main.decision with input as fx.with_fields({"event_type": "plan", "action": "plan", "resource": null, "plan": {"steps": steps}})
}

test_plan_of_allowed_steps if {
	d := plan([{"action": "read_file", "args": {}}, {"action": "write_file", "args": {"path": "/srv/x"}}])
	fx.verdict(d) == "allow"
	d.risk_tier == "operational"
}

test_plan_with_one_bad_step_denied if {
	d := plan([{"action": "read_file", "args": {}}, {"action": "launch_missiles", "args": {}}, {"action": "write_file", "args": {}}])
	fx.verdict(d) == "deny"
	d.reasons == ["plan step 1 (launch_missiles): tool 'launch_missiles' is not in the tool registry and declares no risk tier"]
}

test_plan_step_scope_checked_like_tool_call if {
	d := main.decision with input as fx.with_fields({"event_type": "plan", "action": "plan", "plan": {"steps": [{"action": "read_file", "args": {}}, {"action": "sql_execute", "args": {}}]}, "context": object.union(fx.ctx, {"session_scopes": ["fs:read"]})})
	d.deny
	"plan step 1 (sql_execute): tool 'sql_execute' requires scope 'db:write', which the session (and its credential) does not hold" in d.reasons
}

test_plan_step_paths_checked if {
	d := plan([{"action": "read_file", "args": {}, "resource": {"paths": ["/root/secret"]}}])
	"plan step 0 (read_file): path '/root/secret' is under the protected location '/root'" in d.reasons
}

test_plan_escalates_when_a_step_needs_approval if {
	d := plan([{"action": "read_file", "args": {}}, {"action": "send_email", "args": {}}])
	fx.verdict(d) == "escalate"
	d.risk_tier == "transactional_high"
}

test_plan_security_critical_step_not_allowed if {
	fx.verdict(plan([{"action": "read_file", "args": {}}, {"action": "grant_permission", "args": {}}])) == "deny"
}

test_empty_and_malformed_plans_denied if {
	plan([]).deny
	plan("steps").deny
	plan([5]).deny
	plan([{"action": ""}]).deny
	plan([{"action": "read_file", "event_type": "agent.spawn"}]).deny
	d := main.decision with input as fx.with_fields({"event_type": "plan", "action": "plan", "plan": null})
	d.deny
}

test_plan_step_limit if {
	d := plan([{"action": "read_file", "args": {}}, {"action": "read_file", "args": {}}]) with data.kitelogik.config.plan.max_steps as 1
	"global.plan.too_many_steps" in d.rules
}
